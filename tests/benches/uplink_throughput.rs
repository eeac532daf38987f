//! Sync throughput: records sealed by `sajili enrol`, sent by `sajili uplink --once` to the
//! reference registry over mutual TLS on loopback; and, in the same round, the same bytes
//! uploaded by curl over plain HTTPS to the registry's sink, with their ratio.
//!
//! `cargo bench -p sajili-tests --bench uplink_throughput -- [--records N] [--rounds R]`
//! (default 1,000 records, 3 rounds). Each round is a new device with its own records; the
//! figures of each round are printed, then the medians. A sync of a hundred records takes a
//! fraction of a second, so one round on a busy machine says little: the median of several
//! says more.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sajili_tests::registry::{RegistryProcess, SyncDevice, write_enrolments};
use sajili_tests::stderr;

/// What one round measured.
struct Round {
    records: usize,
    bytes: u64,
    sealing: Duration,
    sync: Duration,
    curl: Duration,
}

impl Round {
    fn megabytes(&self) -> f64 {
        self.bytes as f64 / 1e6
    }

    fn sync_rate(&self) -> f64 {
        self.megabytes() / self.sync.as_secs_f64()
    }

    fn curl_rate(&self) -> f64 {
        self.megabytes() / self.curl.as_secs_f64()
    }

    fn ratio(&self) -> f64 {
        self.sync_rate() / self.curl_rate()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// The envelopes in `device`'s outbox, in order.
fn envelopes(device: &SyncDevice) -> Vec<PathBuf> {
    let mut envelopes: Vec<_> = std::fs::read_dir(device.outbox())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    envelopes.sort();
    envelopes
}

/// Uploads `files` with one curl process, one request each over a reused connection.
fn curl_upload(registry: &RegistryProcess, device: &SyncDevice, files: &[PathBuf]) -> Duration {
    let config = device.dir.path().join("curl.conf");
    let mut text = String::new();
    for file in files {
        text.push_str(&format!(
            "upload-file = \"{}\"\nurl = \"{}/v1/sink\"\noutput = \"/dev/null\"\n",
            file.display(),
            registry.url()
        ));
    }
    std::fs::write(&config, text).unwrap();
    let started = Instant::now();
    let curl = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(registry.keys.join("ca.crt"))
        .arg("-K")
        .arg(&config)
        .output()
        .expect("curl");
    let took = started.elapsed();
    assert!(curl.status.success(), "curl: {}", stderr(&curl));
    took
}

/// One round: a new device seals `records` enrolments; curl uploads the envelopes, then the
/// uplink syncs them.
fn round(registry: &RegistryProcess, records: usize) -> Round {
    let device = SyncDevice::provisioned(registry, &registry.url());
    let (files, _) = write_enrolments(&device.dir.path().join("in"), records);
    let started = Instant::now();
    device.enrol(&files);
    let sealing = started.elapsed();
    let envelopes = envelopes(&device);
    let bytes = envelopes
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    // The baseline first, while the envelopes are still in the outbox.
    let curl = curl_upload(registry, &device, &envelopes);
    let started = Instant::now();
    let output = device.run(&["uplink", "--once"]);
    let sync = started.elapsed();
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert_eq!(registry.records_of(&device.id), records as u64);
    Round {
        records,
        bytes,
        sealing,
        sync,
        curl,
    }
}

fn main() {
    let mut records = 1000usize;
    let mut rounds = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|n| n.parse().ok());
        match arg.as_str() {
            "--records" => records = value.unwrap_or(records),
            "--rounds" => rounds = value.unwrap_or(rounds).max(1),
            _ => {}
        }
    }
    let registry = RegistryProcess::start();
    let measured: Vec<Round> = (0..rounds).map(|_| round(&registry, records)).collect();
    let first = &measured[0];
    println!(
        "uplink_throughput: {rounds} round(s) of {records} records of {:.0} KB ({:.1} MB), sealed in {:.1} s",
        first.bytes as f64 / records as f64 / 1000.0,
        first.megabytes(),
        first.sealing.as_secs_f64()
    );
    for (index, round) in measured.iter().enumerate() {
        println!(
            "  round {}: uplink {:.3} s ({:.0} records/s, {:.1} MB/s), curl {:.3} s ({:.1} MB/s): ratio {:.2}",
            index + 1,
            round.sync.as_secs_f64(),
            round.records as f64 / round.sync.as_secs_f64(),
            round.sync_rate(),
            round.curl.as_secs_f64(),
            round.curl_rate(),
            round.ratio()
        );
    }
    let sync_seconds = median(measured.iter().map(|r| r.sync.as_secs_f64()).collect());
    let curl_seconds = median(measured.iter().map(|r| r.curl.as_secs_f64()).collect());
    println!(
        "  sajili uplink (mTLS, verified receipts, durable at both ends): {sync_seconds:.3} s, {:.0} records/s, {:.1} MB/s (medians)",
        median(
            measured
                .iter()
                .map(|r| r.records as f64 / r.sync.as_secs_f64())
                .collect()
        ),
        median(measured.iter().map(Round::sync_rate).collect())
    );
    println!(
        "  curl, plain HTTPS upload of the same bytes to a sink:          {curl_seconds:.3} s, {:.0} files/s, {:.1} MB/s (medians)",
        median(
            measured
                .iter()
                .map(|r| r.records as f64 / r.curl.as_secs_f64())
                .collect()
        ),
        median(measured.iter().map(Round::curl_rate).collect())
    );
    println!(
        "  ratio uplink/curl: {:.2} (median of the rounds)",
        median(measured.iter().map(Round::ratio).collect())
    );
}
