//! Hot-plug on a twin of /dev/input: a keyboard present from the start types and nothing comes
//! out; a scanner plugged in mid-run is taken at once and its line read; a touchscreen is
//! left alone. The recordings are `struct input_event` as Linux lays it out on 64-bit, with
//! key codes from `linux/input-event-codes.h`, written here rather than with the driver's own
//! encoder.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use sajili_drivers::input::{HotplugSource, NodeInfo, Role, Scanner, TwinNodes};

const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const KEY_ENTER: u16 = 28;

/// KEY_1..KEY_9 are 2..10, KEY_0 is 11.
fn digit_code(digit: char) -> u16 {
    match digit {
        '0' => 11,
        d => d.to_digit(10).unwrap() as u16 + 1,
    }
}

fn event(out: &mut Vec<u8>, kind: u16, code: u16, value: i32) {
    out.extend_from_slice(&1_700_000_000i64.to_ne_bytes());
    out.extend_from_slice(&0i64.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&code.to_ne_bytes());
    out.extend_from_slice(&value.to_ne_bytes());
}

/// A device typing `digits` then Enter: press, sync, release, sync for each key.
fn typing(digits: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let codes = digits.chars().map(digit_code).chain([KEY_ENTER]);
    for code in codes {
        for value in [1, 0] {
            event(&mut out, EV_KEY, code, value);
            event(&mut out, EV_SYN, 0, 0);
        }
    }
    out
}

fn device(name: &str, vendor: u16) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        vendor,
        product: 0x0001,
        keys: (1..=88).collect(),
        absolute_axes: vec![],
    }
}

#[test]
fn a_keyboard_types_nothing_and_a_scanner_plugged_in_later_is_read() {
    let dir = tempfile::tempdir().unwrap();
    TwinNodes::plug(
        dir.path(),
        "event0",
        &device("Logitech USB Keyboard", 0x046d),
        &typing("99999"),
    )
    .unwrap();
    let touch = NodeInfo {
        name: "Touchscreen".into(),
        vendor: 0x0eef,
        product: 0x0001,
        keys: vec![0x14a],
        absolute_axes: vec![0x00, 0x01, 0x35, 0x36],
    };
    TwinNodes::plug(dir.path(), "event1", &touch, &[]).unwrap();

    let source = HotplugSource::start(TwinNodes::new(dir.path()), Duration::from_millis(50));
    let handled = |source: &HotplugSource, role: Role| {
        source
            .handled()
            .iter()
            .filter(|h| h.role == role && h.error.is_none())
            .map(|h| h.name.clone())
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while handled(&source, Role::Ignored).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(handled(&source, Role::Ignored), ["Logitech USB Keyboard"]);
    assert_eq!(handled(&source, Role::Left), ["Touchscreen"]);
    let taken = source.handled();

    let (lines, read) = mpsc::channel();
    std::thread::spawn(move || {
        let mut scanner = Scanner::new(source);
        while let Ok(line) = scanner.next_line() {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    // The keyboard's whole recording has been read and thrown away by now: no line.
    assert_eq!(
        read.recv_timeout(Duration::from_millis(500)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "the keyboard typed into the kiosk ({taken:?})"
    );

    // Plugged in mid-run.
    TwinNodes::plug(
        dir.path(),
        "event2",
        &device("Honeywell 1900 Barcode", 0x0c2e),
        &typing("0123456789"),
    )
    .unwrap();
    let line = read.recv_timeout(Duration::from_secs(10));
    assert_eq!(line.as_deref(), Ok("0123456789"));
    assert_eq!(
        read.recv_timeout(Duration::from_millis(300)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "only the scanner's line"
    );
}
