//! The printer's answers to `DLE EOT n`: one status byte each. Every such byte has bits 1 and
//! 4 set and bits 0 and 7 clear, which tells a status apart from stray bytes on the line.

use std::fmt;

/// `DLE EOT 1`: printer status.
pub const PRINTER: u8 = 1;
/// `DLE EOT 2`: offline cause (cover, paper end).
pub const OFFLINE_CAUSE: u8 = 2;
/// `DLE EOT 4`: roll paper sensor.
pub const PAPER_SENSOR: u8 = 4;

/// The fixed bits of every status byte.
const FIXED_MASK: u8 = 0b1001_0011;
const FIXED_VALUE: u8 = 0b0001_0010;

/// What the printer says of itself, gathered from the three status bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    /// It is offline (cover open, paper out, or an error): it prints nothing now.
    pub offline: bool,
    /// The cover is open.
    pub cover_open: bool,
    /// The roll is out.
    pub paper_out: bool,
    /// The roll is nearly out: still printing, but staff should change it soon.
    pub paper_low: bool,
    /// An error stopped it (a cutter jam, overheating).
    pub error: bool,
}

impl PrinterStatus {
    /// Whether a slip sent now would print.
    pub fn ready(&self) -> bool {
        !(self.offline || self.cover_open || self.paper_out || self.error)
    }
}

impl fmt::Display for PrinterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = if self.cover_open {
            "cover open"
        } else if self.paper_out {
            "out of paper"
        } else if self.error {
            "in error (check the cutter)"
        } else if self.offline {
            "offline"
        } else if self.paper_low {
            "ready, paper low"
        } else {
            "ready"
        };
        f.write_str(words)
    }
}

/// A byte that is not a status byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAStatus(pub u8);

impl fmt::Display for NotAStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} is not a status byte", self.0)
    }
}

impl std::error::Error for NotAStatus {}

/// Checks the fixed bits of a status byte.
pub fn check(byte: u8) -> Result<u8, NotAStatus> {
    if byte & FIXED_MASK == FIXED_VALUE {
        Ok(byte)
    } else {
        Err(NotAStatus(byte))
    }
}

/// Reads the answers to `DLE EOT 1`, `2` and `4`, in that order.
pub fn parse(printer: u8, offline_cause: u8, paper: u8) -> Result<PrinterStatus, NotAStatus> {
    let (printer, cause, paper) = (check(printer)?, check(offline_cause)?, check(paper)?);
    Ok(PrinterStatus {
        offline: printer & 0x08 != 0,
        cover_open: cause & 0x04 != 0,
        // Paper end shows in the offline cause (bit 5) and the roll sensor (bits 5 and 6).
        paper_out: cause & 0x20 != 0 || paper & 0x60 == 0x60,
        paper_low: paper & 0x0C == 0x0C,
        error: cause & 0x40 != 0,
    })
}

/// The three bytes a printer in `status` answers: the twin's side of [`parse`].
pub fn encode(status: &PrinterStatus) -> [u8; 3] {
    let bit = |on: bool, mask: u8| if on { mask } else { 0 };
    let offline = status.offline || status.cover_open || status.paper_out || status.error;
    [
        FIXED_VALUE | bit(offline, 0x08),
        FIXED_VALUE
            | bit(status.cover_open, 0x04)
            | bit(status.paper_out, 0x20)
            | bit(status.error, 0x40),
        FIXED_VALUE | bit(status.paper_low, 0x0C) | bit(status.paper_out, 0x60),
    ]
}

/// The answer to one `DLE EOT n` for a printer in `status`; `None` for requests this printer
/// does not answer (as a real one stays silent).
pub fn answer(n: u8, status: &PrinterStatus) -> Option<u8> {
    let [printer, cause, paper] = encode(status);
    match n {
        PRINTER => Some(printer),
        OFFLINE_CAUSE => Some(cause),
        // Error cause: nothing recoverable or not in the twin.
        3 => Some(FIXED_VALUE),
        PAPER_SENSOR => Some(paper),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_printer_is_ready_and_its_faults_read_back() {
        assert_eq!(parse(0x12, 0x12, 0x12), Ok(PrinterStatus::default()));
        assert!(PrinterStatus::default().ready());
        for status in [
            PrinterStatus {
                paper_out: true,
                offline: true,
                ..Default::default()
            },
            PrinterStatus {
                cover_open: true,
                offline: true,
                ..Default::default()
            },
            PrinterStatus {
                paper_low: true,
                ..Default::default()
            },
        ] {
            let [a, b, c] = encode(&status);
            assert_eq!(parse(a, b, c), Ok(status));
        }
        // An Epson TM-T20's answers with the cover open: offline, cover bit set.
        let status = parse(0x1E, 0x16, 0x12).unwrap_or_default();
        assert!(status.cover_open && !status.ready());
        // Its roll sensor with no paper: bits 5 and 6.
        assert!(parse(0x12, 0x12, 0x72).is_ok_and(|s| s.paper_out));
    }

    #[test]
    fn stray_bytes_are_not_statuses() {
        assert_eq!(parse(0x00, 0x12, 0x12), Err(NotAStatus(0x00)));
        assert_eq!(parse(0x12, 0x93, 0x12), Err(NotAStatus(0x93)));
        assert_eq!(check(b'A'), Err(NotAStatus(b'A')));
    }
}
