//! The real driver against the twin over a real pseudo-terminal: the same bytes a USB-UART
//! bridge would carry.
//!
//! Reads give up after `ANSWER_WAIT`, long enough that a busy machine (the twin is a thread
//! that must be scheduled) is never taken for a silent sensor; only the tests that expect
//! silence wait less, and for them a short wait cannot cause a false failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use sajili_drivers::fingerprint::protocol::ModuleError;
use sajili_drivers::fingerprint::{
    Faults, FingerprintSensor, Pty, R30x, SensorError, Twin, TwinConfig, open_serial,
};

/// How long a read waits for an answer the twin will send.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// How long a read waits where the sensor is expected to stay silent.
const SILENCE_WAIT: Duration = Duration::from_millis(400);

struct Running {
    path: String,
    unplug: Arc<AtomicBool>,
    faults: Arc<AtomicU32>,
}

fn start(config: TwinConfig) -> Running {
    let twin = Twin::new(config);
    let unplug = twin.unplug_switch();
    let faults = twin.fault_counter();
    let path = twin
        .spawn_on_pty()
        .expect("pty")
        .to_string_lossy()
        .into_owned();
    Running {
        path,
        unplug,
        faults,
    }
}

fn images() -> Vec<Vec<u8>> {
    vec![Twin::test_pattern(1), Twin::test_pattern(2)]
}

type Sensor = R30x<Box<dyn serialport::SerialPort>>;

fn connect(path: &str, password: u32) -> Result<Sensor, SensorError> {
    connect_waiting(path, password, ANSWER_WAIT)
}

fn connect_waiting(path: &str, password: u32, wait: Duration) -> Result<Sensor, SensorError> {
    let link = open_serial(path, 57_600, wait)?;
    R30x::connect(link, 0xFFFF_FFFF, password)
}

fn expected(image: &[u8]) -> Vec<u8> {
    image.iter().map(|p| (p >> 4) * 17).collect()
}

#[test]
fn a_finger_is_captured_whole_after_polling() {
    let served = images();
    let twin = start(TwinConfig {
        images: served.clone(),
        polls_before_finger: 3,
        ..TwinConfig::default()
    });
    let mut sensor = connect(&twin.path, 0).unwrap();
    assert_eq!(sensor.describe().packet_size, 128);
    assert_eq!(sensor.describe().baud, 57_600);
    for round in 0..3 {
        let image = sensor.capture(Duration::from_secs(30)).unwrap();
        assert_eq!((image.width, image.height), (256, 288));
        assert_eq!(
            image.pixels,
            expected(&served[round % 2]),
            "capture {round}"
        );
    }
}

#[test]
fn a_wrong_password_is_named() {
    let twin = start(TwinConfig {
        images: images(),
        password: 0x1234,
        ..TwinConfig::default()
    });
    let error = connect(&twin.path, 0).unwrap_err();
    assert!(
        matches!(error, SensorError::Module(ModuleError::WrongPassword)),
        "{error}"
    );
    let second = connect(&twin.path, 0x1234);
    assert!(second.is_ok(), "{:?}", second.err());
}

#[test]
fn no_finger_before_the_deadline_is_said_plainly() {
    let twin = start(TwinConfig {
        images: Vec::new(),
        ..TwinConfig::default()
    });
    let mut sensor = connect(&twin.path, 0).unwrap();
    let error = sensor.capture(Duration::from_millis(300)).unwrap_err();
    assert!(matches!(error, SensorError::NoFinger), "{error}");
    assert_eq!(
        error.to_string(),
        "no finger was placed on the sensor in time"
    );
}

#[test]
fn corrupt_checksums_and_dropped_bytes_are_retried_through() {
    let served = images();
    // An upload is ~290 packets and a bad one means uploading again (the protocol cannot
    // resend one packet): faults are spaced so that retries find clean windows, as on a
    // noisy but working cable.
    for faults in [
        Faults {
            corrupt_checksum_every: Some(500),
            ..Faults::default()
        },
        Faults {
            drop_bytes_every: Some(450),
            ..Faults::default()
        },
    ] {
        let twin = start(TwinConfig {
            images: served.clone(),
            polls_before_finger: 0,
            faults: faults.clone(),
            ..TwinConfig::default()
        });
        let mut sensor = connect(&twin.path, 0).unwrap();
        for round in 0..6 {
            let image = sensor
                .capture(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("{faults:?} round {round}: {e}"));
            // A retried GenImg takes the twin's next finger, so either image may come; it
            // must come whole, pixel for pixel.
            assert!(
                served.iter().any(|s| image.pixels == expected(s)),
                "{faults:?} round {round}: the image is not one the twin served"
            );
        }
        let injected = twin.faults.load(Ordering::SeqCst);
        assert!(
            injected >= 2,
            "{faults:?}: only {injected} fault(s) injected"
        );
    }
}

#[test]
fn every_answer_garbled_gives_a_clear_error_not_a_hang() {
    let twin = start(TwinConfig {
        images: images(),
        faults: Faults {
            corrupt_checksum_every: Some(1),
            ..Faults::default()
        },
        ..TwinConfig::default()
    });
    let error = connect(&twin.path, 0).unwrap_err();
    assert!(matches!(error, SensorError::Garbled(_)), "{error}");
    assert!(error.to_string().contains("garbled"), "{error}");
}

#[test]
fn an_unplugged_sensor_is_reported_and_works_again_when_plugged_back() {
    let twin = start(TwinConfig {
        images: images(),
        polls_before_finger: 0,
        ..TwinConfig::default()
    });
    // Four tries of a 2-second wait report the silence; the same link must then recover.
    let mut sensor = connect_waiting(&twin.path, 0, Duration::from_secs(2)).unwrap();
    twin.unplug.store(true, Ordering::SeqCst);
    let error = sensor.capture(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(error, SensorError::NotAnswering), "{error}");
    assert!(error.to_string().contains("check its cable"), "{error}");
    twin.unplug.store(false, Ordering::SeqCst);
    let image = sensor.capture(Duration::from_secs(30)).unwrap();
    assert_eq!(image.pixels.len(), 256 * 288);
}

#[test]
fn the_baud_rate_can_be_raised() {
    let twin = start(TwinConfig {
        images: images(),
        polls_before_finger: 0,
        ..TwinConfig::default()
    });
    let mut sensor = connect(&twin.path, 0).unwrap();
    sensor.set_baud(115_200).unwrap();
    assert_eq!(sensor.describe().baud, 115_200);
    assert!(sensor.capture(Duration::from_secs(30)).is_ok());
}

#[test]
fn a_twin_for_another_address_stays_silent() {
    let twin = start(TwinConfig {
        images: images(),
        address: 0x0000_0001,
        ..TwinConfig::default()
    });
    let error = connect_waiting(&twin.path, 0, SILENCE_WAIT).unwrap_err();
    assert!(matches!(error, SensorError::NotAnswering), "{error}");
}

#[test]
fn probing_confirms_a_sensor_and_names_silence() {
    use sajili_drivers::fingerprint::discover::probe;
    let twin = start(TwinConfig {
        images: images(),
        ..TwinConfig::default()
    });
    let found = probe(std::path::Path::new(&twin.path)).unwrap();
    assert_eq!(found.family, "R30x/AS608/ZFM");
    let silent = Pty::open().unwrap();
    let error = probe(&silent.path).unwrap_err();
    assert!(matches!(error, SensorError::NotAnswering), "{error}");
    let error = probe(std::path::Path::new("/dev/nonexistent-tty")).unwrap_err();
    assert!(error.to_string().contains("cannot open"), "{error}");
}

#[test]
fn a_slow_sensor_is_waited_for() {
    let twin = start(TwinConfig {
        images: images(),
        polls_before_finger: 0,
        faults: Faults {
            delay: Duration::from_millis(250),
            ..Faults::default()
        },
        ..TwinConfig::default()
    });
    let mut sensor = connect(&twin.path, 0).unwrap();
    let image = sensor.capture(Duration::from_secs(30)).unwrap();
    assert_eq!(image.pixels.len(), 256 * 288);
}

#[test]
fn the_ring_led_is_set_and_bad_settings_are_named() {
    let twin = start(TwinConfig {
        images: images(),
        ..TwinConfig::default()
    });
    let mut sensor = connect(&twin.path, 0).unwrap();
    sensor.set_led(1, 0x80, 2, 0).unwrap();
    let error = sensor.set_led(9, 0, 2, 0).unwrap_err();
    assert!(
        matches!(error, SensorError::Module(ModuleError::PacketReceive)),
        "{error}"
    );
}
