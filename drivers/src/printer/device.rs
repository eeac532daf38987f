//! The driver: ESC/POS jobs and `DLE EOT` status requests over a bidirectional line, the USB
//! printer class's device file (`/dev/usb/lp0`) or the twin's pseudo-terminal, opened alike.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::{Mode, OFlags, open};

use super::escpos::status_request;
use super::status::{self, OFFLINE_CAUSE, PAPER_SENSOR, PRINTER, PrinterStatus};
use super::{PrinterError, ReceiptPrinter};

/// A line to a printer that can be written and read with a deadline.
pub trait PrinterLink: Write + Send {
    /// Reads what arrives within `timeout`; `Ok(0)` when nothing came.
    fn read_within(&mut self, buffer: &mut [u8], timeout: Duration) -> io::Result<usize>;
    /// The device node, for messages.
    fn name(&self) -> String;
}

/// A printer's device node, opened for reading and writing.
#[derive(Debug)]
pub struct DeviceFile {
    file: File,
    path: PathBuf,
}

impl DeviceFile {
    /// Opens `path` (`/dev/usb/lp0`, or the twin's link to its pty).
    pub fn open(path: &Path) -> Result<Self, PrinterError> {
        let name = path.display().to_string();
        let fd = open(
            path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| match PrinterError::from_io(&name, errno.into()) {
            PrinterError::Link(error) => PrinterError::Open {
                path: name.clone(),
                detail: error.to_string(),
            },
            other => other,
        })?;
        Ok(Self {
            file: File::from(fd),
            path: path.to_path_buf(),
        })
    }
}

impl Write for DeviceFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl PrinterLink for DeviceFile {
    fn read_within(&mut self, buffer: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let timeout = Timespec::try_from(timeout).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
        if poll(&mut fds, Some(&timeout))? == 0 {
            return Ok(0);
        }
        // Readable, or hung up: the read says which (a vanished device gives an error).
        self.file.read(buffer)
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// The USB printer class's device nodes on this machine, in name order.
pub fn list_printers(dev: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dev.join("usb")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lp"))
        })
        .collect();
    found.sort();
    found
}

/// An ESC/POS printer on `link`.
#[derive(Debug)]
pub struct EscPosPrinter<L> {
    link: L,
    timeout: Duration,
}

impl EscPosPrinter<DeviceFile> {
    /// Opens the printer at `path`, waiting up to `timeout` for each status answer.
    pub fn open(path: &Path, timeout: Duration) -> Result<Self, PrinterError> {
        Ok(Self::new(DeviceFile::open(path)?, timeout))
    }
}

impl<L: PrinterLink> EscPosPrinter<L> {
    /// The printer on `link`, waiting up to `timeout` for each status answer.
    pub fn new(link: L, timeout: Duration) -> Self {
        Self { link, timeout }
    }

    fn failed(&self, error: io::Error) -> PrinterError {
        PrinterError::from_io(&self.link.name(), error)
    }

    /// Drops bytes left on the line (a late answer to an earlier request).
    fn discard_input(&mut self) -> Result<(), PrinterError> {
        let mut buffer = [0u8; 64];
        // Bounded: a line that never stops talking is garbled, not a reason to spin.
        for _ in 0..64 {
            match self.link.read_within(&mut buffer, Duration::ZERO) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(error) => return Err(self.failed(error)),
            }
        }
        Ok(())
    }

    fn ask(&mut self, n: u8) -> Result<u8, PrinterError> {
        self.link
            .write_all(&status_request(n))
            .and_then(|()| self.link.flush())
            .map_err(|e| self.failed(e))?;
        let deadline = Instant::now() + self.timeout;
        let mut byte = [0u8; 1];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.link.read_within(&mut byte, left) {
                Ok(1..) => return Ok(byte[0]),
                Ok(0) if left.is_zero() => return Err(PrinterError::NotAnswering),
                Ok(0) => {}
                Err(error) => return Err(self.failed(error)),
            }
        }
    }
}

impl<L: PrinterLink> ReceiptPrinter for EscPosPrinter<L> {
    fn status(&mut self) -> Result<PrinterStatus, PrinterError> {
        self.discard_input()?;
        let printer = self.ask(PRINTER)?;
        let cause = self.ask(OFFLINE_CAUSE)?;
        let paper = self.ask(PAPER_SENSOR)?;
        status::parse(printer, cause, paper).map_err(PrinterError::Garbled)
    }

    fn print(&mut self, job: &[u8]) -> Result<PrinterStatus, PrinterError> {
        let before = self.status()?;
        if !before.ready() {
            return Err(PrinterError::NotReady(before));
        }
        self.link
            .write_all(job)
            .and_then(|()| self.link.flush())
            .map_err(|e| self.failed(e))?;
        let after = self.status()?;
        if after.ready() {
            Ok(after)
        } else {
            Err(PrinterError::NotReady(after))
        }
    }
}

/// A scripted line for tests and fuzzing: a "printer" that answers each status request
/// with the next byte of a script, as a real one answers only when asked; writes are kept.
#[derive(Debug, Default)]
pub struct ScriptedLink {
    /// What the "printer" answers, in order.
    pub answers: std::collections::VecDeque<u8>,
    /// What was written to it.
    pub written: Vec<u8>,
    owed: usize,
}

impl ScriptedLink {
    /// A line whose printer answers `answers` in turn.
    pub fn new(answers: &[u8]) -> Self {
        Self {
            answers: answers.iter().copied().collect(),
            written: Vec::new(),
            owed: 0,
        }
    }
}

impl Write for ScriptedLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() == 3 && buf[..2] == status_request(0)[..2] {
            self.owed += 1;
        }
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PrinterLink for ScriptedLink {
    fn read_within(&mut self, buffer: &mut [u8], _timeout: Duration) -> io::Result<usize> {
        if self.owed == 0 {
            return Ok(0);
        }
        let (Some(slot), Some(byte)) = (buffer.first_mut(), self.answers.pop_front()) else {
            return Ok(0);
        };
        self.owed -= 1;
        *slot = byte;
        Ok(1)
    }

    fn name(&self) -> String {
        "script".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(answers: &[u8]) -> EscPosPrinter<ScriptedLink> {
        EscPosPrinter::new(ScriptedLink::new(answers), Duration::ZERO)
    }

    #[test]
    fn status_asks_three_questions_and_reads_three_answers() {
        let mut p = printer(&[0x12, 0x12, 0x12]);
        assert!(p.status().is_ok_and(|s| s.ready()));
        assert_eq!(p.link.written, [0x10, 4, 1, 0x10, 4, 2, 0x10, 4, 4]);
    }

    #[test]
    fn a_printer_without_paper_is_sent_nothing() {
        let mut p = printer(&[0x1A, 0x32, 0x72]);
        let result = p.print(b"\x1b@slip");
        assert!(
            matches!(result, Err(PrinterError::NotReady(s)) if s.paper_out),
            "{result:?}"
        );
        assert_eq!(p.link.written.len(), 9, "only the three status requests");
    }

    #[test]
    fn a_slip_is_sent_between_two_status_checks() {
        let mut p = printer(&[0x12; 6]);
        assert!(p.print(b"slip").is_ok_and(|s| s.ready()));
        assert_eq!(&p.link.written[9..13], b"slip");
        assert_eq!(p.link.written.len(), 22);
    }

    #[test]
    fn silence_is_not_answering_and_noise_is_garbled() {
        let mut p = printer(&[]);
        assert!(matches!(p.status(), Err(PrinterError::NotAnswering)));
        let mut p = printer(b"A\x12\x12");
        assert!(matches!(p.status(), Err(PrinterError::Garbled(_))));
    }
}
