//! Capture-to-image time over the sensor twin, paced to the real wire (the pty itself ignores
//! baud), at 57,600 and 115,200 baud, against the wire time of the bytes the module sends.
//!
//! `cargo bench -p sajili-drivers --bench sensor_capture -- [--captures N]` (default 3).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sajili_drivers::fingerprint::{FingerprintSensor, R30x, Twin, TwinConfig, open_serial};

fn captures_from_args() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--captures")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Bytes the module sends for one capture: the GenImg ack, the UpImage ack, and the image in
/// 128-byte data packets (36,864 bytes, 288 packets of 139 bytes on the wire).
fn bytes_on_wire_per_capture() -> usize {
    let ack = 12;
    ack + ack + 288 * (9 + 128 + 2)
}

fn main() {
    let captures = captures_from_args().max(1);
    let twin = Twin::new(TwinConfig {
        images: vec![Twin::test_pattern(1)],
        polls_before_finger: 0,
        pace_to_wire: true,
        ..TwinConfig::default()
    });
    let path = twin.spawn_on_pty().unwrap().to_string_lossy().into_owned();
    let link = open_serial(&path, 57_600, Duration::from_secs(2)).unwrap();
    let mut sensor = R30x::connect(link, 0xFFFF_FFFF, 0).unwrap();
    for baud in [57_600u32, 115_200] {
        if baud != sensor.describe().baud {
            sensor.set_baud(baud).unwrap();
        }
        let mut times = Vec::new();
        for _ in 0..captures {
            let started = Instant::now();
            let image = sensor.capture(Duration::from_secs(5)).unwrap();
            times.push(started.elapsed());
            assert_eq!(image.pixels.len(), 256 * 288);
        }
        times.sort();
        let median = times[times.len() / 2].as_secs_f64();
        let wire = bytes_on_wire_per_capture() as f64 * 10.0 / f64::from(baud);
        println!(
            "sensor_capture @ {baud} baud: median {median:.2} s per capture, wire time {wire:.2} s, ratio {:.2} ({captures} captures)",
            median / wire
        );
    }
}
