//! Running the devices' simulated twins for other programs: the kiosk in demo mode,
//! `pyfingerprint`, `sajili doctor`, or a field engineer's own tool.

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sajili_drivers::fingerprint::{Faults, Pty, Twin, TwinConfig};
use sajili_drivers::printer::{Fonts, PrinterTwin};

/// Faults `sajili twin sensor --fault` can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SensorFault {
    /// A bad checksum in one answer packet out of 500.
    CorruptChecksum,
    /// Three bytes missing from one answer packet out of 450.
    DropBytes,
    /// Every answer 300 ms late.
    Slow,
    /// Silent after 20 answer packets, as if the cable were pulled.
    Unplug,
}

/// How to run the sensor twin.
#[derive(Debug, Clone)]
pub struct SensorTwinOptions {
    /// Make a symlink here to the pty.
    pub link: Option<PathBuf>,
    /// 8-bit grey 256 x 288 PNG prints to serve in turn (default: a built-in test pattern).
    pub images: Option<PathBuf>,
    /// A fault to inject.
    pub fault: Option<SensorFault>,
    /// Answer only as fast as the real wire carries bytes.
    pub pace: bool,
    /// Serve on this Unix socket (connecting to it) instead of a new pty: a virtual machine's
    /// emulated USB serial port, e.g. QEMU's `-chardev socket,server=on,path=...`.
    pub socket: Option<PathBuf>,
}

/// Why the twin could not start.
#[derive(Debug)]
pub enum TwinError {
    /// No pseudo-terminal could be made, or the link could not be written.
    Io(String),
    /// An image in the folder is unusable.
    Image {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for TwinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(detail) => f.write_str(detail),
            Self::Image { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for TwinError {}

fn load_print(path: &Path) -> Result<Vec<u8>, TwinError> {
    let bad = |reason: String| TwinError::Image {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let info = reader.info();
    if (info.width, info.height) != (256, 288)
        || info.color_type != png::ColorType::Grayscale
        || info.bit_depth != png::BitDepth::Eight
    {
        return Err(bad(
            "needs an 8-bit grey PNG of 256 x 288 pixels (the R30x image)".into(),
        ));
    }
    let mut pixels = vec![0u8; 256 * 288];
    reader
        .next_frame(&mut pixels)
        .map_err(|e| bad(e.to_string()))?;
    Ok(pixels)
}

fn load_prints(folder: &Path) -> Result<Vec<Vec<u8>>, TwinError> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| TwinError::Io(format!("{}: {e}", folder.display())))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("png"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(TwinError::Io(format!(
            "no .png prints in {}",
            folder.display()
        )));
    }
    paths.iter().map(|path| load_print(path)).collect()
}

/// A function that serves until the link closes or the process is stopped.
pub type Serve = Box<dyn FnOnce() -> std::io::Result<()>>;

/// Starts the sensor twin on a new pty (or the given socket); returns the pty's (socket's)
/// path and a function that serves until the process is stopped.
pub fn sensor_twin(options: &SensorTwinOptions) -> Result<(PathBuf, Serve), TwinError> {
    let images = match &options.images {
        Some(folder) => load_prints(folder)?,
        // The kiosk's own twin prints: ten different fingers in any ten in a row, since the
        // kiosk refuses a finger already taken for another position.
        None => crate::ui::twins::prints(crate::ui::twins::TWIN_FINGERS),
    };
    let faults = match options.fault {
        None => Faults::default(),
        Some(SensorFault::CorruptChecksum) => Faults {
            corrupt_checksum_every: Some(500),
            ..Faults::default()
        },
        Some(SensorFault::DropBytes) => Faults {
            drop_bytes_every: Some(450),
            ..Faults::default()
        },
        Some(SensorFault::Slow) => Faults {
            delay: Duration::from_millis(300),
            ..Faults::default()
        },
        Some(SensorFault::Unplug) => Faults {
            unplug_after: Some(20),
            ..Faults::default()
        },
    };
    let mut twin = Twin::new(TwinConfig {
        images,
        pace_to_wire: options.pace,
        faults,
        ..TwinConfig::default()
    });
    if let Some(socket) = &options.socket {
        let mut stream = std::os::unix::net::UnixStream::connect(socket)
            .map_err(|e| TwinError::Io(format!("cannot connect to {}: {e}", socket.display())))?;
        let serve: Serve = Box::new(move || twin.serve(&mut stream));
        return Ok((socket.clone(), serve));
    }
    let pty =
        Pty::open().map_err(|e| TwinError::Io(format!("cannot open a pseudo-terminal: {e}")))?;
    let path = pty.path.clone();
    if let Some(link) = &options.link {
        if link
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            let _ = std::fs::remove_file(link);
        }
        std::os::unix::fs::symlink(&path, link)
            .map_err(|e| TwinError::Io(format!("cannot link {}: {e}", link.display())))?;
    }
    let serve: Serve = Box::new(move || {
        let mut pty = pty;
        twin.serve(&mut pty.master)
    });
    Ok((path, serve))
}

/// The fonts the printer twin prints with: the ones the screens embed.
pub fn printer_fonts() -> Result<Fonts, String> {
    Fonts::new(
        include_bytes!("../ui/fonts/DejaVuSans.ttf").to_vec(),
        include_bytes!("../ui/fonts/DejaVuSans-Bold.ttf").to_vec(),
    )
}

/// States `sajili twin printer --fault` starts the printer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrinterFault {
    /// No roll in it.
    PaperOut,
    /// Its cover open.
    CoverOpen,
    /// Its cable pulled: no device node at all.
    Unplugged,
}

/// How to run the printer twin.
#[derive(Debug, Clone)]
pub struct PrinterTwinOptions {
    /// Where its device node appears (a symbolic link to its pty).
    pub link: PathBuf,
    /// A state to start in.
    pub fault: Option<PrinterFault>,
    /// Write each printed page here as `slip-N.png`.
    pub pages: Option<PathBuf>,
}

/// Starts the printer twin; returns a function that writes its pages out until the process
/// is stopped.
pub fn printer_twin(options: &PrinterTwinOptions) -> Result<Serve, TwinError> {
    let fonts = printer_fonts().map_err(TwinError::Io)?;
    let twin = PrinterTwin::spawn(&options.link, fonts).map_err(|e| {
        TwinError::Io(format!(
            "cannot start the printer twin at {}: {e}",
            options.link.display()
        ))
    })?;
    match options.fault {
        Some(PrinterFault::PaperOut) => twin.set_paper_out(true),
        Some(PrinterFault::CoverOpen) => twin.set_cover_open(true),
        Some(PrinterFault::Unplugged) => twin.set_unplugged(true),
        None => {}
    }
    let pages = options.pages.clone();
    let serve: Serve = Box::new(move || {
        let mut written = 0;
        loop {
            let printed = twin.wait_for_pages(written + 1, Duration::from_secs(1));
            for page in printed.iter().skip(written) {
                written += 1;
                if let Some(folder) = &pages {
                    std::fs::write(folder.join(format!("slip-{written}.png")), &page.png)?;
                }
            }
        }
    });
    Ok(serve)
}

/// `sajili twin vivid`: the kernel's vivid test driver made a camera that shows the demo face
/// (the camera twin's, [`crate::ui::twins::DEMO_FACE`]) through its video loop, so the kiosk
/// captures it with its real V4L2 code where no camera is plugged in (the boot test's guest).
/// Runs until the process is stopped.
#[cfg(feature = "ui")]
pub fn vivid_twin() -> Result<(), String> {
    use sajili_drivers::camera::{feed_vivid, find_vivid, loop_frame};
    let nodes = find_vivid().map_err(|e| e.to_string())?;
    let face = crate::biometrics::photo::Rgb::decode(crate::ui::twins::DEMO_FACE)
        .map_err(|e| e.to_string())?;
    let frame = loop_frame(face.pixels(), face.width(), face.height())
        .ok_or("the demo face is not a picture")?;
    log::info!(
        "vivid: showing the demo face on {} through its loop to {}",
        nodes.output.display(),
        nodes.capture.display()
    );
    let stop = std::sync::atomic::AtomicBool::new(false);
    feed_vivid(&nodes, &[frame], 1, &stop).map_err(|e| e.to_string())
}
