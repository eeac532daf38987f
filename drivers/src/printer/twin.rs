//! The simulated printer: reads ESC/POS from a pseudo-terminal as a printer reads its USB
//! endpoint, answers `DLE EOT` from its own state (paper, cover), and prints each slip into a
//! PNG page. Its device node is a symbolic link that comes and goes with the (simulated) USB
//! cable: unplugged, the link is gone and the pty hung up, so the driver sees what a vanished
//! `/dev/usb/lp0` gives it.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};

use super::interpret::{Interpreter, Op};
use super::paper::{Fonts, Page, Paper};
use super::status::{self, PrinterStatus};
use crate::fingerprint::Pty;

/// The twin's insides without any I/O: bytes in; status answers and finished pages out.
#[derive(Debug)]
pub struct TwinCore {
    interpreter: Interpreter,
    paper: Paper,
}

impl TwinCore {
    /// A printer just switched on.
    pub fn new(fonts: Fonts) -> Self {
        Self {
            interpreter: Interpreter::new(),
            paper: Paper::new(fonts),
        }
    }

    /// Reads `bytes` with the printer in `status`: returns the status bytes to send back and
    /// the pages cut. An offline printer (cover open, no paper) answers status requests but
    /// prints nothing.
    pub fn receive(&mut self, bytes: &[u8], status: &PrinterStatus) -> (Vec<u8>, Vec<Page>) {
        let mut answers = Vec::new();
        let mut pages = Vec::new();
        for op in self.interpreter.feed(bytes) {
            match op {
                Op::Status(n) => answers.extend(status::answer(n, status)),
                op if status.ready() => pages.extend(self.paper.apply(&op)),
                _ => {}
            }
        }
        (answers, pages)
    }
}

#[derive(Debug, Default)]
struct State {
    status: PrinterStatus,
    unplugged: bool,
    pages: Vec<Page>,
    received: usize,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    printed: Condvar,
}

/// A running printer twin, and the switches to put it in each state.
#[derive(Debug, Clone)]
pub struct PrinterTwin {
    shared: Arc<Shared>,
    link: PathBuf,
}

/// How often the serving thread looks at its switches while the line is quiet.
const TICK: Duration = Duration::from_millis(20);

impl PrinterTwin {
    /// Starts the twin on a background thread for the life of the process; its device node
    /// appears at `link` (which must not be a file of anyone else's: it is replaced).
    pub fn spawn(link: &Path, fonts: Fonts) -> io::Result<Self> {
        let twin = Self {
            shared: Arc::new(Shared::default()),
            link: link.to_path_buf(),
        };
        // Plugged in before this returns, so a client may open the link at once.
        let pty = twin.plug_in()?;
        let serving = twin.clone();
        std::thread::Builder::new()
            .name("printer-twin".into())
            .spawn(move || serving.run(pty, &fonts))?;
        Ok(twin)
    }

    /// Where clients open it, as they would `/dev/usb/lp0`.
    pub fn path(&self) -> &Path {
        &self.link
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data: a panic elsewhere leaves it usable.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the roll out (`true`) or puts a new one in.
    pub fn set_paper_out(&self, out: bool) {
        self.state().status.paper_out = out;
    }

    /// Opens or closes the cover.
    pub fn set_cover_open(&self, open: bool) {
        self.state().status.cover_open = open;
    }

    /// Pulls the USB cable (`true`) or plugs it back in.
    pub fn set_unplugged(&self, unplugged: bool) {
        self.state().unplugged = unplugged;
    }

    /// Every page printed so far.
    pub fn pages(&self) -> Vec<Page> {
        self.state().pages.clone()
    }

    /// Bytes received so far.
    pub fn bytes_received(&self) -> usize {
        self.state().received
    }

    /// Waits up to `timeout` until `count` pages have been printed; returns every page then.
    pub fn wait_for_pages(&self, count: usize, timeout: Duration) -> Vec<Page> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state();
        while state.pages.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .printed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.pages.clone()
    }

    /// A new pty, and the link pointed at it.
    fn plug_in(&self) -> io::Result<Pty> {
        let pty = Pty::open()?;
        let _ = std::fs::remove_file(&self.link);
        std::os::unix::fs::symlink(&pty.path, &self.link)?;
        Ok(pty)
    }

    fn run(self, first: Pty, fonts: &Fonts) {
        let mut pty = Some(first);
        loop {
            let unplugged = self.state().unplugged;
            match (&mut pty, unplugged) {
                (Some(_), true) => {
                    // The node goes, and the line hangs up under any client holding it.
                    let _ = std::fs::remove_file(&self.link);
                    pty = None;
                }
                (None, true) => std::thread::sleep(TICK),
                (None, false) => match self.plug_in() {
                    Ok(new) => pty = Some(new),
                    Err(_) => std::thread::sleep(TICK),
                },
                (Some(line), false) => {
                    // A printer is switched on when plugged in: nothing of before survives.
                    let mut core = TwinCore::new(fonts.clone());
                    if self.serve(&mut line.master, &mut core).is_err() {
                        pty = None;
                    }
                }
            }
        }
    }

    /// Serves until unplugged (`Ok`) or the line fails.
    fn serve(&self, master: &mut std::fs::File, core: &mut TwinCore) -> io::Result<()> {
        let mut buffer = [0u8; 4096];
        let tick = Timespec::try_from(TICK).map_err(io::Error::other)?;
        loop {
            if self.state().unplugged {
                return Ok(());
            }
            let mut fds = [PollFd::new(&*master, PollFlags::IN)];
            if poll(&mut fds, Some(&tick))? == 0 {
                continue;
            }
            let read = master.read(&mut buffer)?;
            let status = {
                let mut state = self.state();
                state.received += read;
                state.status
            };
            let (answers, pages) = core.receive(&buffer[..read], &status);
            if !answers.is_empty() {
                master.write_all(&answers)?;
                master.flush()?;
            }
            if !pages.is_empty() {
                self.state().pages.extend(pages);
                self.shared.printed.notify_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::escpos::{Align, Job, QrLevel};
    use super::super::{EscPosPrinter, PrinterError, ReceiptPrinter};
    use super::*;

    fn fonts() -> Fonts {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/ui/fonts");
        Fonts::new(
            std::fs::read(dir.join("DejaVuSans.ttf")).unwrap(),
            std::fs::read(dir.join("DejaVuSans-Bold.ttf")).unwrap(),
        )
        .unwrap()
    }

    fn job() -> Vec<u8> {
        let mut job = Job::new();
        job.align(Align::Centre)
            .size(2, 2)
            .line("KE-TEST")
            .size(1, 1)
            .qr(b"KE-TEST", 6, QrLevel::M)
            .feed(3)
            .cut(0);
        job.into_bytes()
    }

    fn open(twin: &PrinterTwin) -> Result<EscPosPrinter<super::super::DeviceFile>, PrinterError> {
        EscPosPrinter::open(twin.path(), Duration::from_millis(500))
    }

    #[test]
    fn the_twin_prints_a_page_per_cut_and_reports_each_fault() {
        let dir = tempfile::tempdir().unwrap();
        let twin = PrinterTwin::spawn(&dir.path().join("lp0"), fonts()).unwrap();
        let mut printer = open(&twin).unwrap();
        assert!(printer.print(&job()).is_ok());
        let pages = twin.wait_for_pages(1, Duration::from_secs(5));
        assert_eq!(pages.len(), 1);
        let decoder = png::Decoder::new(std::io::Cursor::new(pages[0].png.clone()));
        assert_eq!(pages[0].text, "KE-TEST\n\n\n\n");
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!(info.width, 576);
        assert!(info.height > 200, "a line and a QR code: {}", info.height);

        twin.set_paper_out(true);
        let result = printer.print(&job());
        assert!(
            matches!(result, Err(PrinterError::NotReady(s)) if s.paper_out),
            "{result:?}"
        );
        twin.set_paper_out(false);
        twin.set_cover_open(true);
        let result = printer.status();
        assert!(
            result.as_ref().is_ok_and(|s| s.cover_open && !s.ready()),
            "{result:?}"
        );
        twin.set_cover_open(false);
        assert_eq!(twin.pages().len(), 1, "nothing printed while not ready");

        twin.set_unplugged(true);
        std::thread::sleep(TICK * 5);
        let result = printer.status();
        assert!(
            matches!(result, Err(PrinterError::Unplugged { .. })),
            "{result:?}"
        );
        assert!(matches!(open(&twin), Err(PrinterError::Unplugged { .. })));
        twin.set_unplugged(false);
        let mut printer = (0..50)
            .find_map(|_| {
                std::thread::sleep(TICK);
                open(&twin).ok()
            })
            .unwrap();
        assert!(printer.print(&job()).is_ok());
        assert_eq!(twin.wait_for_pages(2, Duration::from_secs(5)).len(), 2);
    }
}
