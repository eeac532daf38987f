//! Keyboard-wedge scanners type what they read: key codes in, text lines out (US layout, as
//! barcode scanners emit by default), with shift for capitals and symbols.

use super::event::{EV_KEY, RawEvent};

const KEY_ENTER: u16 = 28;
const KEY_KPENTER: u16 = 96;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_RIGHTSHIFT: u16 = 54;
/// Longest line kept: a runaway scanner must not fill memory.
pub const MAX_LINE: usize = 4096;

/// The characters a key code types, unshifted and shifted.
fn characters(code: u16) -> Option<(char, char)> {
    const DIGITS: &[u8; 10] = b"1234567890";
    const DIGITS_SHIFTED: &[u8; 10] = b"!@#$%^&*()";
    let pair = |a: u8, b: u8| Some((char::from(a), char::from(b)));
    match code {
        2..=11 => pair(
            DIGITS[usize::from(code - 2)],
            DIGITS_SHIFTED[usize::from(code - 2)],
        ),
        12 => pair(b'-', b'_'),
        13 => pair(b'=', b'+'),
        16..=25 => letter(b"qwertyuiop"[usize::from(code - 16)]),
        26 => pair(b'[', b'{'),
        27 => pair(b']', b'}'),
        30..=38 => letter(b"asdfghjkl"[usize::from(code - 30)]),
        39 => pair(b';', b':'),
        40 => pair(b'\'', b'"'),
        41 => pair(b'`', b'~'),
        43 => pair(b'\\', b'|'),
        44..=50 => letter(b"zxcvbnm"[usize::from(code - 44)]),
        51 => pair(b',', b'<'),
        52 => pair(b'.', b'>'),
        53 => pair(b'/', b'?'),
        57 => pair(b' ', b' '),
        // Keypad digits: 71-73 = 7 8 9, 75-77 = 4 5 6, 79-81 = 1 2 3, 82 = 0.
        71 => pair(b'7', b'7'),
        72 => pair(b'8', b'8'),
        73 => pair(b'9', b'9'),
        75 => pair(b'4', b'4'),
        76 => pair(b'5', b'5'),
        77 => pair(b'6', b'6'),
        79 => pair(b'1', b'1'),
        80 => pair(b'2', b'2'),
        81 => pair(b'3', b'3'),
        82 => pair(b'0', b'0'),
        _ => None,
    }
}

fn letter(lower: u8) -> Option<(char, char)> {
    Some((char::from(lower), char::from(lower.to_ascii_uppercase())))
}

/// Turns key events into lines of text.
#[derive(Debug, Default)]
pub struct LineAssembler {
    line: String,
    left_shift: bool,
    right_shift: bool,
}

impl LineAssembler {
    /// A fresh assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one event; returns a line when Enter completes one.
    pub fn feed(&mut self, event: &RawEvent) -> Option<String> {
        if event.kind != EV_KEY {
            return None;
        }
        let down = event.value != 0;
        match event.code {
            KEY_LEFTSHIFT => self.left_shift = down,
            KEY_RIGHTSHIFT => self.right_shift = down,
            KEY_ENTER | KEY_KPENTER if event.value == 1 => {
                return Some(std::mem::take(&mut self.line));
            }
            code if event.value == 1 || event.value == 2 => {
                if let Some((plain, shifted)) = characters(code)
                    && self.line.len() < MAX_LINE
                {
                    let shift = self.left_shift || self.right_shift;
                    self.line.push(if shift { shifted } else { plain });
                }
            }
            _ => {}
        }
        None
    }
}

/// The key events a scanner sends to type `text` then Enter, as a recorded stream would
/// hold them (press, sync, release, sync; shift around capitals). Characters with no key are
/// skipped. For twins and tests.
pub fn type_line(text: &str, start_seconds: i64) -> Vec<RawEvent> {
    let mut events = Vec::new();
    let mut microseconds = 0i64;
    let mut push = |events: &mut Vec<RawEvent>, kind: u16, code: u16, value: i32| {
        microseconds += 1_000;
        events.push(RawEvent {
            seconds: start_seconds + microseconds / 1_000_000,
            microseconds: microseconds % 1_000_000,
            kind,
            code,
            value,
        });
    };
    let mut stroke = |events: &mut Vec<RawEvent>, code: u16, shift: bool| {
        if shift {
            push(events, EV_KEY, KEY_LEFTSHIFT, 1);
            push(events, 0, 0, 0);
        }
        push(events, EV_KEY, code, 1);
        push(events, 0, 0, 0);
        push(events, EV_KEY, code, 0);
        push(events, 0, 0, 0);
        if shift {
            push(events, EV_KEY, KEY_LEFTSHIFT, 0);
            push(events, 0, 0, 0);
        }
    };
    for character in text.chars() {
        // Main-block keys only (keypad codes 71+ would duplicate the digits).
        let found = (1..=57u16).find_map(|code| {
            let (plain, shifted) = characters(code)?;
            if plain == character {
                Some((code, false))
            } else if shifted == character {
                Some((code, true))
            } else {
                None
            }
        });
        if let Some((code, shift)) = found {
            stroke(&mut events, code, shift);
        }
    }
    stroke(&mut events, KEY_ENTER, false);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(events: &[RawEvent]) -> Vec<String> {
        let mut assembler = LineAssembler::new();
        events.iter().filter_map(|e| assembler.feed(e)).collect()
    }

    #[test]
    fn a_scanned_passport_number_comes_out_whole_with_capitals() {
        assert_eq!(lines(&type_line("AK1234567", 0)), vec!["AK1234567"]);
        let mut two = type_line("12345678", 0);
        two.extend(type_line("A012345678Z", 1));
        assert_eq!(lines(&two), vec!["12345678", "A012345678Z"]);
    }

    #[test]
    fn symbols_and_keypad_digits_are_typed() {
        assert_eq!(
            lines(&type_line("NAIROBI/BLOCK 12/345-A", 0)),
            vec!["NAIROBI/BLOCK 12/345-A"]
        );
        let keypad = [
            RawEvent {
                seconds: 0,
                microseconds: 0,
                kind: EV_KEY,
                code: 79,
                value: 1,
            },
            RawEvent {
                seconds: 0,
                microseconds: 0,
                kind: EV_KEY,
                code: 82,
                value: 1,
            },
            RawEvent {
                seconds: 0,
                microseconds: 0,
                kind: EV_KEY,
                code: KEY_KPENTER,
                value: 1,
            },
        ];
        assert_eq!(lines(&keypad), vec!["10"]);
    }

    #[test]
    fn a_runaway_scanner_cannot_fill_memory() {
        let mut assembler = LineAssembler::new();
        let press = RawEvent {
            seconds: 0,
            microseconds: 0,
            kind: EV_KEY,
            code: 30,
            value: 2,
        };
        for _ in 0..100_000 {
            assert_eq!(assembler.feed(&press), None);
        }
        let enter = RawEvent {
            code: KEY_ENTER,
            value: 1,
            ..press
        };
        assert_eq!(assembler.feed(&enter).map(|l| l.len()), Some(MAX_LINE));
    }
}
