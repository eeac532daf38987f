//! The applicant's display settings: larger text and high contrast. They belong to the
//! person at the screen, like the language: the next session starts with the usual display.

use slint::ComponentHandle;

use super::{Kiosk, KioskWindow, Theme};

/// Larger text and high contrast, and whether their settings are open over the screen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Display {
    /// Every text a quarter larger (and the touch size with it).
    pub large_text: bool,
    /// Black on white, every colour at least 7:1 against its background.
    pub high_contrast: bool,
    /// The settings are shown over the screen.
    pub open: bool,
}

impl Display {
    /// Applies a touch on the settings: "open", "close", "large-text" or "high-contrast"
    /// (the last two switch on and off). False for anything else.
    pub fn act(&mut self, value: &str) -> bool {
        match value {
            "open" => self.open = true,
            "close" => self.open = false,
            "large-text" => self.large_text = !self.large_text,
            "high-contrast" => self.high_contrast = !self.high_contrast,
            _ => return false,
        }
        true
    }

    /// Shows the settings on `window`.
    pub fn show(&self, window: &KioskWindow) {
        let theme = window.global::<Theme>();
        theme.set_large_text(self.large_text);
        theme.set_high_contrast(self.high_contrast);
        window.global::<Kiosk>().set_display_open(self.open);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setting_switches_on_and_off_and_nothing_else_is_taken() {
        let mut display = Display::default();
        assert!(display.act("large-text"));
        assert!(display.act("high-contrast"));
        assert!(display.act("open"));
        assert_eq!(
            display,
            Display {
                large_text: true,
                high_contrast: true,
                open: true
            }
        );
        assert!(display.act("large-text"));
        assert!(display.act("close"));
        assert!(!display.act("bigger"));
        assert_eq!(
            display,
            Display {
                large_text: false,
                high_contrast: true,
                open: false
            }
        );
    }
}
