//! Capture-to-image time over the sensor twin on a pseudo-terminal.
//!
//! Measured: the driver's own cost per capture with the twin's pacing off (the pty carries
//! bytes as fast as two processes' threads can pass them), which is what the driver adds to
//! whatever the wire and the module take.
//!
//! Simulated, not measured: with pacing on the twin sleeps 10 bit times per byte at the rate the
//! client set, so the paced time is the wire-time formula plus the driver's cost, by
//! construction. It is printed for orientation only; a real module's capture time (its sensor,
//! its image buffer, its UART) can only be measured on one.
//!
//! `cargo bench -p sajili-drivers --bench sensor_capture -- [--captures N]` (default 3 paced,
//! ten times as many unpaced).
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

fn connect(pace_to_wire: bool) -> R30x<Box<dyn serialport::SerialPort>> {
    let image = Twin::test_pattern(1);
    let twin = Twin::new(TwinConfig {
        images: vec![image],
        polls_before_finger: 0,
        pace_to_wire,
        ..TwinConfig::default()
    });
    let path = twin.spawn_on_pty().unwrap().to_string_lossy().into_owned();
    let link = open_serial(&path, 57_600, Duration::from_secs(5)).unwrap();
    R30x::connect(link, 0xFFFF_FFFF, 0).unwrap()
}

/// Median seconds per capture over `captures`.
fn median_capture(sensor: &mut R30x<Box<dyn serialport::SerialPort>>, captures: usize) -> f64 {
    let expected: Vec<u8> = Twin::test_pattern(1)
        .iter()
        .map(|p| (p >> 4) * 17)
        .collect();
    let mut times = Vec::new();
    for _ in 0..captures {
        let started = Instant::now();
        let image = sensor.capture(Duration::from_secs(5)).unwrap();
        times.push(started.elapsed().as_secs_f64());
        assert!(image.pixels == expected, "the image came back damaged");
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let captures = captures_from_args().max(1);

    let mut unpaced = connect(false);
    let overhead = median_capture(&mut unpaced, captures * 10);
    println!(
        "sensor_capture, pacing off (measured): median {:.1} ms per capture: the driver and the pty, \
         {} bytes in 290 packets ({} captures)",
        overhead * 1000.0,
        bytes_on_wire_per_capture(),
        captures * 10
    );

    let mut sensor = connect(true);
    for baud in [57_600u32, 115_200] {
        if baud != sensor.describe().baud {
            sensor.set_baud(baud).unwrap();
        }
        let median = median_capture(&mut sensor, captures);
        let wire = bytes_on_wire_per_capture() as f64 * 10.0 / f64::from(baud);
        println!(
            "sensor_capture @ {baud} baud, paced (simulated: the twin sleeps the wire time): \
             median {median:.2} s per capture; wire-time formula {wire:.2} s ({captures} captures)"
        );
    }
}
