//! A keyboard-wedge scanner replayed from a recorded `input_event` stream: the same bytes
//! /dev/input/event* delivers, through the same parser and keymap the real device uses.
//!
//! The recording is written here from Linux's own numbers (`linux/input-event-codes.h`) and
//! `struct input_event`'s layout on 64-bit, not with the driver's keymap or encoder: a wrong
//! key table or byte layout in the driver would otherwise write and read its own mistake.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use sajili_drivers::input::{InputError, ReplaySource, Scanner};

// linux/input-event-codes.h
const EV_SYN: u16 = 0x00;
const EV_KEY: u16 = 0x01;
const EV_MSC: u16 = 0x04;
const SYN_REPORT: u16 = 0;
const MSC_SCAN: u16 = 0x04;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_ENTER: u16 = 28;

/// What a USB HID keyboard-wedge scanner sends for each character it types: the Linux key
/// code, the HID usage it reports with MSC_SCAN (USB HID Usage Tables, keyboard page 0x07),
/// and whether it holds shift.
fn key(character: char) -> (u16, u32, bool) {
    match character {
        '1' => (2, 0x7001E, false),
        '2' => (3, 0x7001F, false),
        '3' => (4, 0x70020, false),
        '4' => (5, 0x70021, false),
        '5' => (6, 0x70022, false),
        '6' => (7, 0x70023, false),
        '7' => (8, 0x70024, false),
        '8' => (9, 0x70025, false),
        '9' => (10, 0x70026, false),
        '0' => (11, 0x70027, false),
        'A' => (30, 0x70004, true),
        'K' => (37, 0x7000E, true),
        'Z' => (44, 0x7001D, true),
        other => panic!("no key for {other:?} in this recording"),
    }
}

/// One `struct input_event` on x86-64 / arm64: `struct timeval` (two i64), u16 type, u16 code,
/// i32 value, little-endian: 24 bytes.
fn event(bytes: &mut Vec<u8>, time_us: &mut i64, kind: u16, code: u16, value: i32) {
    *time_us += 1_000;
    bytes.extend_from_slice(&(1_800_000_000 + *time_us / 1_000_000).to_le_bytes());
    bytes.extend_from_slice(&(*time_us % 1_000_000).to_le_bytes());
    bytes.extend_from_slice(&kind.to_le_bytes());
    bytes.extend_from_slice(&code.to_le_bytes());
    bytes.extend_from_slice(&value.to_le_bytes());
}

fn stroke(bytes: &mut Vec<u8>, time_us: &mut i64, code: u16, usage: u32, shift: bool) {
    if shift {
        event(bytes, time_us, EV_MSC, MSC_SCAN, 0x700E1);
        event(bytes, time_us, EV_KEY, KEY_LEFTSHIFT, 1);
        event(bytes, time_us, EV_SYN, SYN_REPORT, 0);
    }
    for value in [1, 0] {
        event(bytes, time_us, EV_MSC, MSC_SCAN, usage as i32);
        event(bytes, time_us, EV_KEY, code, value);
        event(bytes, time_us, EV_SYN, SYN_REPORT, 0);
    }
    if shift {
        event(bytes, time_us, EV_MSC, MSC_SCAN, 0x700E1);
        event(bytes, time_us, EV_KEY, KEY_LEFTSHIFT, 0);
        event(bytes, time_us, EV_SYN, SYN_REPORT, 0);
    }
}

/// The bytes a grabbed scanner's event device delivers for `lines`, each ended by Enter;
/// `enter: false` leaves the last Enter out.
fn recording(lines: &[&str], enter: bool) -> Vec<u8> {
    let (mut bytes, mut time_us) = (Vec::new(), 0i64);
    for (index, line) in lines.iter().enumerate() {
        for character in line.chars() {
            let (code, usage, shift) = key(character);
            stroke(&mut bytes, &mut time_us, code, usage, shift);
        }
        if enter || index + 1 < lines.len() {
            stroke(&mut bytes, &mut time_us, KEY_ENTER, 0x70028, false);
        }
    }
    bytes
}

#[test]
fn scanned_documents_come_out_as_lines_then_the_stream_ends() {
    let bytes = recording(&["12345678", "AK1234567", "A012345678Z"], true);
    let mut scanner = Scanner::new(ReplaySource::from_bytes(&bytes).unwrap());
    assert_eq!(scanner.next_line().unwrap(), "12345678");
    assert_eq!(scanner.next_line().unwrap(), "AK1234567");
    assert_eq!(scanner.next_line().unwrap(), "A012345678Z");
    assert!(matches!(scanner.next_line(), Err(InputError::Ended)));
}

#[test]
fn a_cut_recording_is_refused_with_a_reason() {
    let bytes = recording(&["12345678"], true);
    let error = ReplaySource::from_bytes(&bytes[..bytes.len() - 5]).unwrap_err();
    assert!(error.to_string().contains("cut off"), "{error}");
}

#[test]
fn a_scan_cut_before_enter_yields_no_half_line() {
    let bytes = recording(&["12345678"], false);
    let mut scanner = Scanner::new(ReplaySource::from_bytes(&bytes).unwrap());
    assert!(matches!(scanner.next_line(), Err(InputError::Ended)));
}
