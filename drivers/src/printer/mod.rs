//! USB receipt printers speaking ESC/POS over the USB printer class (`/dev/usb/lp*`), and
//! their simulated twin: an encoder for what a slip needs, the real-time status (`DLE EOT`)
//! and its parser, the driver behind [`ReceiptPrinter`], and a twin on a pseudo-terminal that
//! reads the same bytes, answers the same status requests and prints PNG pages.

pub mod device;
pub mod escpos;
pub mod interpret;
pub mod paper;
pub mod status;
mod twin;

use std::fmt;
use std::io;

pub use device::{DeviceFile, EscPosPrinter, PrinterLink, list_printers};
pub use paper::{Fonts, Page};
pub use status::PrinterStatus;
pub use twin::{PrinterTwin, TwinCore};

/// A receipt printer, real or simulated: the app sees only this.
pub trait ReceiptPrinter {
    /// Asks the printer how it is (paper, cover) without printing.
    fn status(&mut self) -> Result<PrinterStatus, PrinterError>;
    /// Prints a job if the printer is ready, then asks again: a roll that ran out during the
    /// slip is reported, not taken for a printed slip.
    fn print(&mut self, job: &[u8]) -> Result<PrinterStatus, PrinterError>;
}

/// Why a slip was not printed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PrinterError {
    /// No printer at that device node (unplugged, or never plugged in).
    Unplugged {
        /// The device node.
        path: String,
    },
    /// The device node could not be opened for another reason (permissions).
    Open {
        /// The device node.
        path: String,
        /// What the system said.
        detail: String,
    },
    /// No answer to a status request in time: off, or not an ESC/POS printer.
    NotAnswering,
    /// A byte came back that is not a status byte.
    Garbled(status::NotAStatus),
    /// The printer answered but cannot print: cover open, out of paper, an error.
    NotReady(PrinterStatus),
    /// The line failed otherwise.
    Link(io::Error),
}

impl PrinterError {
    /// The error for an I/O failure: the ones a vanished USB device gives read as unplugged.
    pub fn from_io(path: &str, error: io::Error) -> Self {
        use rustix::io::Errno;
        let gone = error.kind() == io::ErrorKind::NotFound
            || Errno::from_io_error(&error)
                .is_some_and(|e| [Errno::NODEV, Errno::NOENT, Errno::NXIO, Errno::IO].contains(&e));
        if gone {
            Self::Unplugged {
                path: path.to_owned(),
            }
        } else {
            Self::Link(error)
        }
    }
}

impl fmt::Display for PrinterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unplugged { path } => {
                write!(f, "no printer at {path}: check its USB cable and power")
            }
            Self::Open { path, detail } => write!(f, "cannot open the printer at {path}: {detail}"),
            Self::NotAnswering => f.write_str(
                "the printer does not answer status requests: check it is on and speaks ESC/POS",
            ),
            Self::Garbled(error) => write!(f, "garbled answer from the printer ({error})"),
            Self::NotReady(status) => write!(f, "the printer is {status}"),
            Self::Link(error) => write!(f, "the printer's link failed: {error}"),
        }
    }
}

impl std::error::Error for PrinterError {}
