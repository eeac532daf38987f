//! Sync throughput: records sealed by `sajili enrol`, sent by `sajili uplink --once` to the
//! reference registry over mutual TLS on loopback; and, in the same run, the same bytes
//! uploaded by curl over plain HTTPS to the registry's sink, with their ratio.
//!
//! `cargo bench -p sajili-tests --bench uplink_throughput -- [--records N]` (default 1,000).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;
use std::time::Instant;

use sajili_tests::registry::{RegistryProcess, SyncDevice, write_enrolments};
use sajili_tests::stderr;

fn main() {
    let mut records = 1000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--records" {
            records = args.next().and_then(|n| n.parse().ok()).unwrap_or(records);
        }
    }
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let (files, _) = write_enrolments(&device.dir.path().join("in"), records);
    let started = Instant::now();
    device.enrol(&files);
    let sealing = started.elapsed();
    let mut envelopes: Vec<_> = std::fs::read_dir(device.outbox())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    envelopes.sort();
    let bytes: u64 = envelopes
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    // The baseline first, while the envelopes are still in the outbox.
    let config = device.dir.path().join("curl.conf");
    let mut text = String::new();
    for envelope in &envelopes {
        text.push_str(&format!(
            "upload-file = \"{}\"\nurl = \"{}/v1/sink\"\noutput = \"/dev/null\"\n",
            envelope.display(),
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
    let curl_time = started.elapsed();
    assert!(curl.status.success(), "curl: {}", stderr(&curl));

    let started = Instant::now();
    let output = device.run(&["uplink", "--once"]);
    let sync_time = started.elapsed();
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert_eq!(registry.records_of(&device.id), records as u64);

    let megabytes = bytes as f64 / 1e6;
    let sync_rate = megabytes / sync_time.as_secs_f64();
    let curl_rate = megabytes / curl_time.as_secs_f64();
    println!(
        "uplink_throughput: {records} records of {:.0} KB ({megabytes:.1} MB), sealed in {:.1} s",
        bytes as f64 / records as f64 / 1000.0,
        sealing.as_secs_f64()
    );
    println!(
        "  sajili uplink (mTLS, verified receipts, durable at both ends): {:.1} s, {:.0} records/s, {sync_rate:.1} MB/s",
        sync_time.as_secs_f64(),
        records as f64 / sync_time.as_secs_f64()
    );
    println!(
        "  curl, plain HTTPS upload of the same bytes to a sink:          {:.1} s, {:.0} files/s, {curl_rate:.1} MB/s",
        curl_time.as_secs_f64(),
        records as f64 / curl_time.as_secs_f64()
    );
    println!("  ratio uplink/curl: {:.2}", sync_rate / curl_rate);
}
