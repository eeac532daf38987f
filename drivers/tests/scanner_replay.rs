//! A keyboard-wedge scanner replayed from a recorded `input_event` stream: the same bytes
//! /dev/input/event* delivers, through the same parser and keymap the real device uses.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use sajili_drivers::input::event::RawEvent;
use sajili_drivers::input::keymap::type_line;
use sajili_drivers::input::{InputError, ReplaySource, Scanner};

fn recording(lines: &[&str]) -> Vec<u8> {
    lines
        .iter()
        .enumerate()
        .flat_map(|(index, line)| type_line(line, 1_800_000_000 + index as i64))
        .flat_map(|event: RawEvent| event.encode())
        .collect()
}

#[test]
fn scanned_documents_come_out_as_lines_then_the_stream_ends() {
    let bytes = recording(&["12345678", "AK1234567", "A012345678Z"]);
    let mut scanner = Scanner::new(ReplaySource::from_bytes(&bytes).unwrap());
    assert_eq!(scanner.next_line().unwrap(), "12345678");
    assert_eq!(scanner.next_line().unwrap(), "AK1234567");
    assert_eq!(scanner.next_line().unwrap(), "A012345678Z");
    assert!(matches!(scanner.next_line(), Err(InputError::Ended)));
}

#[test]
fn a_cut_recording_is_refused_with_a_reason() {
    let bytes = recording(&["12345678"]);
    let error = ReplaySource::from_bytes(&bytes[..bytes.len() - 5]).unwrap_err();
    assert!(error.to_string().contains("cut off"), "{error}");
}

#[test]
fn a_scan_cut_before_enter_yields_no_half_line() {
    let events = type_line("12345678", 0);
    let without_enter: Vec<RawEvent> = events[..events.len() - 4].to_vec();
    let mut scanner = Scanner::new(ReplaySource::from_events(without_enter));
    assert!(matches!(scanner.next_line(), Err(InputError::Ended)));
}
