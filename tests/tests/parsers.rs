//! Every parser of outside bytes, fed thousands of mutations of its fuzz seeds: no panic, and
//! the properties the fuzz targets assert. Real fuzzing is `cargo fuzz` (fuzz/); this keeps the
//! parsers honest on every CI run, deterministically. Every seed must parse first: a parser
//! that refused everything would otherwise pass every "refused without panic" test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

use sajili::biometrics::{ImageRole, check};
use sajili::record::{Envelope, RegistrationNumber, decode_payload};
use sajili_tests::workspace_root;

const MUTATIONS: usize = 3_000;

struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, limit: usize) -> usize {
        (self.next() % limit.max(1) as u64) as usize
    }

    /// A copy of `seed` with a few flipped bits, overwritten bytes, a cut or an insertion.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut bytes = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            match self.below(5) {
                0 if !bytes.is_empty() => {
                    let at = self.below(bytes.len());
                    bytes[at] ^= 1 << self.below(8);
                }
                1 if !bytes.is_empty() => {
                    let at = self.below(bytes.len());
                    bytes[at] = self.next() as u8;
                }
                2 => {
                    let at = self.below(bytes.len() + 1);
                    bytes.truncate(at);
                }
                3 => {
                    let at = self.below(bytes.len() + 1);
                    bytes.insert(at, self.next() as u8);
                }
                _ => {
                    // Interesting numbers where length fields tend to be.
                    if bytes.len() >= 4 {
                        let at = self.below(bytes.len() - 3);
                        let value = [0u32, 1, 0x7FFF_FFFF, u32::MAX][self.below(4)];
                        bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
                    }
                }
            }
        }
        bytes
    }
}

/// The seeds of `target`, by file name, in name order.
fn named_seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let folder = workspace_root().join("fuzz/corpus").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    assert!(!out.is_empty(), "no seeds in {}", folder.display());
    out.sort();
    out
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = named_seeds(target)
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    out.sort();
    out
}

/// Calls `parses` on every seed of `target` with its name; each must return true.
fn every_seed_parses(target: &str, mut parses: impl FnMut(&str, &[u8]) -> bool) {
    for (name, bytes) in named_seeds(target) {
        assert!(parses(&name, &bytes), "{target}/{name} does not parse");
    }
}

fn each_mutation(target: &str, mut check_one: impl FnMut(&[u8])) {
    let mut mutator = Mutator(0x005A_1111 ^ target.len() as u64);
    let seeds = seeds(target);
    for seed in &seeds {
        check_one(seed);
    }
    for index in 0..MUTATIONS {
        let input = mutator.mutate(&seeds[index % seeds.len()]);
        check_one(&input);
    }
}

#[test]
fn envelopes_parse_canonically_or_not_at_all() {
    every_seed_parses("envelope", |_, bytes| Envelope::from_bytes(bytes).is_ok());
    let mut parsed = 0;
    each_mutation("envelope", |bytes| {
        if let Ok(envelope) = Envelope::from_bytes(bytes) {
            assert_eq!(envelope.to_bytes(), bytes);
            parsed += 1;
        }
    });
    assert!(parsed > 0, "not even the seed parsed");
}

#[test]
fn wsq_files_decode_or_give_an_error() {
    every_seed_parses("wsq", |_, bytes| {
        sajili::biometrics::wsq::decode(bytes).is_ok()
    });
    let mut decoded = 0;
    each_mutation("wsq", |bytes| {
        if let Ok(file) = sajili::biometrics::wsq::decode(bytes) {
            assert!(file.picture.width() >= sajili::biometrics::wsq::MIN_SIDE);
            decoded += 1;
        }
    });
    assert!(decoded > 0, "not even the seed decoded");
}

#[test]
fn iso_records_read_canonically_or_not_at_all() {
    use sajili::biometrics::iso19794::{
        read_face_record, read_finger_record, write_face_record, write_finger_record,
    };
    every_seed_parses("iso19794", |name, bytes| match name {
        "seed-face" => read_face_record(bytes).is_ok(),
        _ => read_finger_record(bytes).is_ok(),
    });
    let mut read = 0;
    each_mutation("iso19794", |bytes| {
        if let Ok(views) = read_finger_record(bytes) {
            if bytes[8..].starts_with(&(bytes.len() as u32).to_be_bytes()) {
                let again = write_finger_record(&views).unwrap();
                assert_eq!(read_finger_record(&again).unwrap(), views);
            }
            read += 1;
        }
        if let Ok(faces) = read_face_record(bytes) {
            let again = write_face_record(&faces).unwrap();
            assert_eq!(read_face_record(&again).unwrap(), faces);
            read += 1;
        }
    });
    assert!(read > 0, "not even the seeds read");
}

#[test]
fn receipts_verify_canonically_or_not_at_all() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
    every_seed_parses("receipt", |_, bytes| {
        sajili::record::Receipt::verify(bytes, &key).is_ok()
    });
    let mut verified = 0;
    each_mutation("receipt", |bytes| {
        if let Ok(receipt) = sajili::record::Receipt::verify(bytes, &key) {
            assert_eq!(receipt.to_bytes(), bytes);
            verified += 1;
        }
    });
    assert!(verified > 0, "not even the seed verified");
}

#[test]
fn damaged_registry_answers_and_requests_are_refused_without_panic() {
    use sajili::uplink::identity::DeviceCertificate;
    use sajili::uplink::protocol::{ApiError, CertificateIssued, ProvisionRequest};
    every_seed_parses("uplink_json", |name, bytes| match name {
        "seed-error" => serde_json::from_slice::<ApiError>(bytes).is_ok(),
        "seed-provision" => serde_json::from_slice::<ProvisionRequest>(bytes).is_ok(),
        "seed-issued" => serde_json::from_slice::<CertificateIssued>(bytes)
            .is_ok_and(|issued| DeviceCertificate::from_pem(&issued.certificate).is_ok()),
        _ => false,
    });
    let mut certificates = 0;
    let (mut errors, mut requests) = (0, 0);
    each_mutation("uplink_json", |bytes| {
        errors += usize::from(serde_json::from_slice::<ApiError>(bytes).is_ok());
        requests += usize::from(serde_json::from_slice::<ProvisionRequest>(bytes).is_ok());
        if let Ok(issued) = serde_json::from_slice::<CertificateIssued>(bytes)
            && DeviceCertificate::from_pem(&issued.certificate).is_ok()
        {
            certificates += 1;
        }
    });
    assert!(certificates > 0, "not even the seed certificate parsed");
    assert!(
        errors > 0 && requests > 0,
        "{errors} errors, {requests} requests"
    );
}

#[test]
fn damaged_images_are_refused_without_panic() {
    every_seed_parses("image", |name, bytes| {
        let role = match name {
            "seed-photo" => ImageRole::FacePhoto,
            _ => ImageRole::Fingerprint,
        };
        check(bytes.to_vec(), role).is_ok()
    });
    let mut refused = 0;
    each_mutation("image", |bytes| {
        for role in [ImageRole::FacePhoto, ImageRole::Fingerprint] {
            if check(bytes.to_vec(), role).is_err() {
                refused += 1;
            }
        }
    });
    assert!(refused > MUTATIONS, "too few refusals: {refused}");
}

#[test]
fn damaged_payloads_are_refused_without_panic() {
    every_seed_parses("payload", |_, bytes| decode_payload(bytes).is_ok());
    let mut decoded = 0;
    each_mutation("payload", |bytes| {
        if decode_payload(bytes).is_ok() {
            decoded += 1;
        }
    });
    assert!(decoded >= 1, "the seed payload must decode");
}

#[test]
fn damaged_bundles_and_enrolment_json_are_refused_without_panic() {
    every_seed_parses("bundle", |_, bytes| {
        sajili::device::TrustBundle::parse(bytes).is_ok()
    });
    every_seed_parses("enrolment_json", |_, bytes| {
        serde_json::from_slice::<sajili::kiosk::ImportRequest>(bytes).is_ok()
    });
    let (mut bundles, mut requests) = (0, 0);
    each_mutation("bundle", |bytes| {
        bundles += usize::from(sajili::device::TrustBundle::parse(bytes).is_ok());
    });
    each_mutation("enrolment_json", |bytes| {
        requests +=
            usize::from(serde_json::from_slice::<sajili::kiosk::ImportRequest>(bytes).is_ok());
    });
    // Most mutations break the JSON; some (a changed letter inside a string) do not.
    assert!(
        bundles < MUTATIONS && requests < MUTATIONS,
        "{bundles} {requests}"
    );
}

#[test]
fn registration_numbers_round_trip_or_are_refused() {
    every_seed_parses("registration_number", |_, bytes| {
        std::str::from_utf8(bytes).is_ok_and(|text| RegistrationNumber::parse(text).is_ok())
    });
    let (mut parsed, mut refused) = (0, 0);
    each_mutation("registration_number", |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(number) = RegistrationNumber::parse(text)
        {
            assert_eq!(RegistrationNumber::parse(&number.to_string()), Ok(number));
            parsed += 1;
        } else {
            refused += 1;
        }
    });
    // Mutations mostly break the check symbol; the seed (and a few harmless ones) parse.
    assert!(
        parsed > 0 && refused > MUTATIONS / 2,
        "{parsed} parsed, {refused} refused"
    );
}

/// A policy or audit batch the seeds' keys signed: `Some(true)` policy, `Some(false)` audit.
fn fleet_signed(bytes: &[u8]) -> Option<bool> {
    use ed25519_dalek::SigningKey;
    let policy_key = SigningKey::from_bytes(&[5; 32]).verifying_key();
    if sajili_record::policy::verify(bytes, &policy_key).is_ok() {
        return Some(true);
    }
    let device_key = SigningKey::from_bytes(&[3; 32]).verifying_key();
    serde_json::from_slice::<sajili_record::protocol::SignedAudit>(bytes)
        .ok()
        .and_then(|signed| signed.open(&device_key))
        .map(|_| false)
}

#[test]
fn fleet_policies_and_audit_batches_are_taken_only_as_signed() {
    every_seed_parses("fleet", |_, bytes| fleet_signed(bytes).is_some());
    let seeds = seeds("fleet");
    let mut taken = 0;
    each_mutation("fleet", |bytes| {
        if fleet_signed(bytes).is_some() {
            // Only an unchanged meaning passes the signature: a mutation outside the signed
            // string (whitespace, a changed letter in the case of a hex digit) at most.
            taken += 1;
            assert!(
                seeds
                    .iter()
                    .any(|seed| seed.len().abs_diff(bytes.len()) <= 1),
                "a mutation was taken: {}",
                String::from_utf8_lossy(bytes)
            );
        }
    });
    assert!(taken < MUTATIONS / 10, "{taken} mutations taken");
}

/// Whether a bundle's header verifies under the seed's key and every part has its bytes.
fn update_whole(bytes: &[u8]) -> bool {
    use sajili_record::update::{copy_part, read_header};
    let key = ed25519_dalek::SigningKey::from_bytes(&[6; 32]).verifying_key();
    let mut reader = bytes;
    read_header(&mut reader, &key).is_ok_and(|manifest| {
        manifest
            .parts
            .iter()
            .all(|part| copy_part(&mut reader, &mut std::io::sink(), part, |_| {}).is_ok())
    })
}

#[test]
fn update_bundles_are_taken_only_whole_and_as_signed() {
    every_seed_parses("update", |_, bytes| update_whole(bytes));
    let seed = &seeds("update")[0];
    each_mutation("update", |bytes| {
        // A mutation can only pass by leaving the signed header and the parts as they were
        // (a cut or an insertion after the last part).
        if update_whole(bytes) {
            assert!(bytes.len() >= seed.len() - 1 && bytes.starts_with(&seed[..seed.len() - 1]));
        }
    });
}

#[test]
fn seed_corpora_exist_for_every_fuzz_target() {
    let targets = std::fs::read_dir(workspace_root().join("fuzz/fuzz_targets")).unwrap();
    for target in targets {
        let path = target.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            Path::new(&workspace_root().join("fuzz/corpus").join(&name)).is_dir(),
            "fuzz target {name} has no seed corpus"
        );
    }
}

#[test]
fn sensor_packets_parse_canonically_and_the_twin_survives_any_stream() {
    use sajili_drivers::fingerprint::packet::decode_prefix;
    use sajili_drivers::fingerprint::{Twin, TwinConfig};
    every_seed_parses("sensor_packets", |_, bytes| {
        matches!(decode_prefix(bytes), Ok(Some(_)))
    });
    let mut parsed = 0;
    each_mutation("sensor_packets", |bytes| {
        if let Ok(Some((packet, used))) = decode_prefix(bytes) {
            assert_eq!(packet.encode(), &bytes[..used]);
            parsed += 1;
        }
        let mut twin = Twin::new(TwinConfig {
            images: vec![vec![128; 256 * 288]],
            polls_before_finger: 0,
            ..TwinConfig::default()
        });
        let mut link = Loopback {
            input: std::io::Cursor::new(bytes.to_vec()),
            output: Vec::new(),
        };
        assert!(twin.serve(&mut link).is_ok());
    });
    assert!(parsed > 0);
}

/// Reads from a buffer, writes into another: a serial line with no device behind it.
struct Loopback {
    input: std::io::Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl std::io::Read for Loopback {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl std::io::Write for Loopback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn input_streams_parse_canonically_or_not_at_all() {
    use sajili_drivers::input::event::parse_stream;
    use sajili_drivers::input::keymap::LineAssembler;
    every_seed_parses("input_events", |_, bytes| {
        parse_stream(bytes).is_ok_and(|events| {
            let mut assembler = LineAssembler::new();
            events.iter().filter_map(|e| assembler.feed(e)).count() == 1
        })
    });
    let mut parsed = 0;
    each_mutation("input_events", |bytes| {
        if let Ok(events) = parse_stream(bytes) {
            let again: Vec<u8> = events.iter().flat_map(|e| e.encode()).collect();
            assert_eq!(again, bytes);
            let mut assembler = LineAssembler::new();
            events.iter().for_each(|e| {
                assembler.feed(e);
            });
            parsed += 1;
        }
    });
    assert!(parsed > 0);
}

#[test]
fn camera_frames_are_repaired_or_refused_without_panic() {
    use sajili_drivers::camera::{PixelFormat, RawFrame, decode, has_huffman_tables, repair};
    every_seed_parses("mjpeg", |_, bytes| {
        let frame = RawFrame {
            bytes: bytes.to_vec(),
            timestamp: Default::default(),
        };
        repair(bytes).is_ok() && decode(PixelFormat::Mjpeg, 64, 48, frame).is_ok()
    });
    let mut decoded = 0;
    each_mutation("mjpeg", |bytes| {
        if let Ok(fixed) = repair(bytes) {
            assert_eq!(has_huffman_tables(&fixed), Ok(true));
        }
        let frame = RawFrame {
            bytes: bytes.to_vec(),
            timestamp: Default::default(),
        };
        if decode(PixelFormat::Mjpeg, 64, 48, frame).is_ok() {
            decoded += 1;
        }
    });
    assert!(decoded > 0, "the seed frame must decode after repair");
}

#[test]
fn printer_streams_read_alike_in_any_chunks_and_the_printer_twin_survives_any() {
    use sajili_drivers::printer::interpret::{Interpreter, Op, interpret, merge_text};
    use sajili_drivers::printer::status::check;
    use sajili_drivers::printer::{PrinterStatus, TwinCore};
    every_seed_parses("printer_escpos", |_, bytes| {
        let ops = interpret(bytes);
        !ops.is_empty()
            && ops
                .iter()
                .all(|op| !matches!(op, Op::Text(t) if t.is_empty()))
    });
    let fonts = sajili::simulate::printer_fonts().unwrap();
    let mut pages = 0;
    let mut answered = 0;
    each_mutation("printer_escpos", |bytes| {
        let mut interpreter = Interpreter::new();
        let mut chunked = Vec::new();
        for chunk in bytes.chunks(5) {
            chunked.extend(interpreter.feed(chunk));
        }
        assert_eq!(merge_text(interpret(bytes)), merge_text(chunked));
        let mut twin = TwinCore::new(fonts.clone());
        let (answers, printed) = twin.receive(bytes, &PrinterStatus::default());
        assert!(
            answers.iter().all(|&byte| check(byte).is_ok()),
            "{answers:?}"
        );
        assert!(printed.iter().all(|page| page.png.starts_with(b"\x89PNG")));
        pages += printed.len();
        answered += answers.len();
    });
    assert!(
        pages > 0 && answered > 0,
        "pages {pages}, answers {answered}"
    );
}

#[test]
fn printer_status_answers_are_taken_only_as_three_status_bytes() {
    use sajili_drivers::printer::device::ScriptedLink;
    use sajili_drivers::printer::status::parse;
    use sajili_drivers::printer::{EscPosPrinter, ReceiptPrinter};
    every_seed_parses("printer_status", |_, bytes| {
        EscPosPrinter::new(ScriptedLink::new(bytes), std::time::Duration::ZERO)
            .status()
            .is_ok()
    });
    let mut taken = 0;
    each_mutation("printer_status", |bytes| {
        let mut printer = EscPosPrinter::new(ScriptedLink::new(bytes), std::time::Duration::ZERO);
        if let Ok(status) = printer.status() {
            assert_eq!(parse(bytes[0], bytes[1], bytes[2]), Ok(status));
            taken += 1;
        }
        let _ = printer.print(bytes);
    });
    assert!(taken > 0);
}
