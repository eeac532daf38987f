//! What an input device is for, from its capabilities alone.
//!
//! The kiosk has no keyboard (people use the touchscreen), so a device that can type digits,
//! letters and Enter is taken for a keyboard-wedge barcode or document scanner.

/// What an input device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Types digits, letters and Enter: a keyboard-wedge scanner (or a keyboard).
    Scanner,
    /// Reports absolute multi-touch positions.
    Touchscreen,
    /// A few keys: power, volume, function buttons on the enclosure.
    HardwareKeys,
    /// Anything else (mouse, sensors).
    Other,
}

const KEY_ENTER: u16 = 28;
const KEY_A: u16 = 30;
const BTN_TOUCH: u16 = 0x14a;
const ABS_X: u16 = 0x00;
const ABS_MT_POSITION_X: u16 = 0x35;

/// Classifies a device by the key codes and absolute axes it supports.
pub fn classify(keys: &[u16], absolute_axes: &[u16]) -> InputKind {
    let has_key = |code: u16| keys.contains(&code);
    let touch = absolute_axes.contains(&ABS_MT_POSITION_X)
        || (absolute_axes.contains(&ABS_X) && has_key(BTN_TOUCH));
    if touch {
        InputKind::Touchscreen
    } else if (2..=11).all(has_key) && has_key(KEY_A) && has_key(KEY_ENTER) {
        InputKind::Scanner
    } else if keys.iter().any(|code| *code < 0x100) {
        InputKind::HardwareKeys
    } else {
        InputKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_told_apart_by_capabilities() {
        let keyboard: Vec<u16> = (1..=88).collect();
        assert_eq!(classify(&keyboard, &[]), InputKind::Scanner);
        assert_eq!(
            classify(&[BTN_TOUCH], &[ABS_X, 0x01, ABS_MT_POSITION_X, 0x36]),
            InputKind::Touchscreen
        );
        assert_eq!(classify(&[116, 114, 115], &[]), InputKind::HardwareKeys);
        assert_eq!(classify(&[0x110, 0x111], &[]), InputKind::Other, "a mouse");
        let digits_only: Vec<u16> = (2..=11).chain([KEY_ENTER]).collect();
        assert_eq!(
            classify(&digits_only, &[]),
            InputKind::HardwareKeys,
            "a keypad is not a scanner"
        );
    }
}
