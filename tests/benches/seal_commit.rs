//! Seal-and-commit benchmark: an enrolment with a 640x480 JPEG photo and ten 256x288 prints,
//! validated, journalled and sealed (CBOR, age, ed25519) into redb with immediate durability.
//!
//! `cargo bench -p sajili-tests --bench seal_commit -- [--records N]` (default 200).
//! Prints the median and 90th percentile per record and records per second.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sajili::clock::{self, Clock, SystemClock};
use sajili::device::{self, DataDir};
use sajili::fixtures::adult_enrolment;
use sajili::kiosk::enrol;
use sajili::record::{ChainSlot, sha256};
use sajili_tests::TestRegistry;

fn records_from_args() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--records")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

fn main() {
    let records = records_from_args().max(1);
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let bundle = registry.write_bundle(dir.path());
    let data = DataDir::new(dir.path().join("data"));
    device::init(&data, &bundle, &SystemClock).unwrap();
    let device = device::open(&data).unwrap();
    sajili::fixtures::add_fixture_staff(&device.store).unwrap();
    let template = adult_enrolment(1);
    let image_bytes = template.image_bytes();

    // Sealing alone (CBOR + age + ed25519), no store.
    let mut seal_only = Vec::with_capacity(records);
    let mut envelope_len = 0;
    for _ in 0..records.min(50) {
        let started = Instant::now();
        let envelope = device
            .sealer
            .seal(&template, ChainSlot::FIRST, 1_800_000_000)
            .unwrap();
        seal_only.push(started.elapsed());
        envelope_len = envelope.to_bytes().len();
        std::hint::black_box(sha256(&envelope.ciphertext));
    }

    let mut timings = Vec::with_capacity(records);
    let started_all = Instant::now();
    for _ in 0..records {
        let enrolment = template.clone();
        let now = clock::floored(SystemClock.now(), device.store.clock_floor().unwrap());
        let started = Instant::now();
        enrol(&device, enrolment, now).unwrap();
        timings.push(started.elapsed());
    }
    let total = started_all.elapsed();
    timings.sort();
    seal_only.sort();
    let file_size = std::fs::metadata(data.store_path()).unwrap().len();

    println!(
        "seal_commit: {records} records, {image_bytes} image bytes each, envelope {envelope_len} bytes"
    );
    println!(
        "seal only (CBOR+age+ed25519): median {:.2} ms",
        percentile(&seal_only, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "seal+commit (validate, journal, seal, Immediate commit): median {:.2} ms, p90 {:.2} ms",
        percentile(&timings, 0.5).as_secs_f64() * 1e3,
        percentile(&timings, 0.9).as_secs_f64() * 1e3
    );
    println!(
        "throughput: {:.1} records/s ({:.1} MB/s of envelopes)",
        records as f64 / total.as_secs_f64(),
        (records * envelope_len) as f64 / total.as_secs_f64() / 1e6
    );
    println!(
        "store file: {:.1} MB for {records} records",
        file_size as f64 / 1e6
    );

    // One staff sign-in: Argon2id with the kiosk's parameters, plus the store's reads.
    let (number, pin) = sajili::fixtures::FIXTURE_OPERATOR;
    let mut checks = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let outcome = sajili::staff::sign_in(&device.store, number, pin, 1_800_000_000).unwrap();
        checks.push(started.elapsed());
        assert!(matches!(outcome, sajili::staff::SignIn::Accepted(_)));
    }
    checks.sort();
    println!(
        "PIN check (Argon2id m={} KiB, t={}, p={}): median {:.1} ms of 10",
        sajili::staff::PIN_HASH_MEMORY_KIB,
        sajili::staff::PIN_HASH_PASSES,
        sajili::staff::PIN_HASH_LANES,
        percentile(&checks, 0.5).as_secs_f64() * 1e3
    );
}
