//! `sajili doctor`: the self-test field staff run after flashing. Finds every camera,
//! fingerprint sensor, receipt printer and input device, checks each one (a frame decoded, a
//! handshake answered, the printer's paper and cover, a scanner grabbed), and gives a verdict per device. The staff screen's "Test
//! devices" runs the same checks through the kiosk's own device threads (`ui::devices`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sajili_drivers::camera::{self, Camera, CameraFaults, CameraTwin, PixelFormat, V4lSource};
use sajili_drivers::fingerprint::{self, FingerprintSensor, R30x, Twin, TwinConfig, discover};
use sajili_drivers::input::{self, InputKind, ReplaySource, Scanner};
use sajili_drivers::printer::{EscPosPrinter, PrinterTwin, ReceiptPrinter};

/// The size the kiosk captures face photos at.
pub const CAMERA_SIZE: (u32, u32) = (640, 480);

/// One device's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What kind of device.
    pub kind: &'static str,
    /// Which one (its device node, or what was looked for).
    pub device: String,
    /// Whether it works (a device that is not fitted and need not be counts as working).
    pub ok: bool,
    /// Whether it is there at all: a receipt printer is optional (a self-service kiosk may have
    /// none), and its absence is said, not failed.
    pub fitted: bool,
    /// What was found, or what is wrong and what to do.
    pub detail: String,
}

impl Check {
    /// A verdict: what was found (`Ok`), or what is wrong (`Err`).
    pub fn new(
        kind: &'static str,
        device: impl Into<String>,
        result: Result<String, String>,
    ) -> Self {
        let (ok, detail) = match result {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        Self {
            kind,
            device: device.into(),
            ok,
            fitted: true,
            detail,
        }
    }

    /// An optional device that is not there: not a failure, but said.
    pub fn not_fitted(kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            device: "-".into(),
            ok: true,
            fitted: false,
            detail: detail.into(),
        }
    }
}

fn frame_check<S: camera::FrameSource>(source: S) -> Result<String, String> {
    let (format, _, _) = source.format();
    let format = String::from_utf8_lossy(&format.fourcc()).into_owned();
    let mut camera = Camera::new(source);
    // The first frames after opening may be partial: allow a few.
    let mut last_error = String::new();
    for _ in 0..5 {
        match camera.next_frame() {
            Ok(frame) => {
                return Ok(format!(
                    "{}x{} frame decoded ({format})",
                    frame.width, frame.height
                ));
            }
            Err(error) => last_error = error.to_string(),
        }
    }
    Err(last_error)
}

fn sensor_check<L: fingerprint::SerialLink>(mut sensor: R30x<L>) -> Result<String, String> {
    let description = sensor.describe();
    let image = sensor
        .capture(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{} answered at {} baud; {}x{} image read",
        description.family, description.baud, image.width, image.height
    ))
}

/// How long a printer has to answer each status request.
const PRINTER_WAIT: Duration = Duration::from_millis(500);

/// The receipt printers to use: `SAJILI_PRINTER` when set (a twin, or a printer at a name
/// udev gave it), else every USB printer class node, `/dev/usb/lp*`.
pub fn printer_paths() -> Vec<PathBuf> {
    match std::env::var_os("SAJILI_PRINTER") {
        Some(path) if !path.is_empty() => vec![PathBuf::from(path)],
        _ => sajili_drivers::printer::list_printers(Path::new("/dev")),
    }
}

/// The printers' verdicts: each one's status, or, with none, that slips are not printed (a
/// printer is optional; the boot's self-test must not fail a kiosk that has none).
pub fn printer_checks(paths: &[PathBuf]) -> Vec<Check> {
    if paths.is_empty() {
        return vec![Check::not_fitted(
            "printer",
            "no receipt printer: enrolments go on without a slip (if one is fitted, check its USB cable and power)",
        )];
    }
    paths.iter().map(|path| printer_check(path)).collect()
}

/// Opens the printer at `path` and asks how it is: ready, or what staff must do.
pub fn printer_check(path: &Path) -> Check {
    let result = EscPosPrinter::open(path, PRINTER_WAIT)
        .and_then(|mut printer| printer.status())
        .map_err(|e| e.to_string())
        .and_then(|status| {
            if status.ready() {
                Ok(format!("ESC/POS printer {status}"))
            } else if status.cover_open {
                Err(format!("{status}: close the printer's cover"))
            } else if status.paper_out {
                Err(format!("{status}: load a new roll"))
            } else {
                Err(format!("{status}: switch the printer off and on"))
            }
        });
    Check::new("printer", path.display().to_string(), result)
}

/// Checks the real devices on this machine.
pub fn check_devices() -> Vec<Check> {
    let mut checks = Vec::new();

    let cameras = camera::list_cameras();
    if cameras.is_empty() {
        checks.push(Check::new(
            "camera",
            "-",
            Err("no camera found: check its USB cable".into()),
        ));
    }
    for found in cameras {
        let result = V4lSource::open(&found.path, CAMERA_SIZE)
            .map_err(|e| e.to_string())
            .and_then(frame_check);
        checks.push(Check::new(
            "camera",
            found.path.display().to_string(),
            result,
        ));
    }

    let bridges = discover::find_bridges(Path::new("/sys/class/tty"), Path::new("/dev"));
    if bridges.is_empty() {
        checks.push(Check::new(
            "sensor",
            "-",
            Err("no fingerprint sensor found: check its USB cable".into()),
        ));
    }
    for bridge in bridges {
        let path = bridge.device.to_string_lossy().into_owned();
        let result = fingerprint::open_serial(&path, 57_600, Duration::from_millis(500))
            .and_then(|link| R30x::connect(link, fingerprint::packet::DEFAULT_ADDRESS, 0))
            .map_err(|e| format!("{} bridge, but: {e}", bridge.chip))
            .map(|sensor| {
                let d = sensor.describe();
                format!(
                    "{} bridge; {} answered at {} baud",
                    bridge.chip, d.family, d.baud
                )
            });
        checks.push(Check::new("sensor", path, result));
    }

    checks.extend(printer_checks(&printer_paths()));

    checks.extend(check_inputs(true));
    checks
}

/// The input devices: scanners (grabbed when `grab`, as the kiosk grabs them; a running
/// kiosk already holds the grab, so it asks without), touchscreens and hardware keys.
pub fn check_inputs(grab: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    for device in input::list_devices() {
        let name = format!("{} ({})", device.path.display(), device.name);
        match device.kind {
            InputKind::Scanner if !grab => {
                checks.push(Check::new("scanner", name, Ok("found".into())));
            }
            InputKind::Scanner => {
                let result = input::EvdevSource::open_grabbed(&device.path)
                    .map(|_| "grabbed: its keys will not reach the screen".to_string())
                    .map_err(|e| e.to_string());
                checks.push(Check::new("scanner", name, result));
            }
            InputKind::Touchscreen => {
                checks.push(Check::new("touch", name, Ok("touchscreen found".into())))
            }
            InputKind::HardwareKeys => {
                checks.push(Check::new("keys", name, Ok("hardware keys found".into())))
            }
            InputKind::Other => {}
        }
    }
    checks
}

/// Runs the same checks on the simulated twins (a camera from a generated scene, the sensor
/// on a pseudo-terminal, the printer on another, a replayed scanner recording).
pub fn check_twins() -> Vec<Check> {
    let mut checks = Vec::new();
    let scene = CameraTwin::scene(CAMERA_SIZE.0, CAMERA_SIZE.1, 0);
    let twin = CameraTwin::new(
        PixelFormat::Mjpeg,
        CAMERA_SIZE.0,
        CAMERA_SIZE.1,
        &[scene],
        30,
        CameraFaults::default(),
    );
    checks.push(Check::new("camera", "twin (MJPEG)", frame_check(twin)));

    let twin = Twin::new(TwinConfig {
        images: vec![Twin::test_pattern(1)],
        polls_before_finger: 0,
        ..TwinConfig::default()
    });
    let sensor = twin
        .spawn_on_pty()
        .map_err(|e| e.to_string())
        .and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let sensor = fingerprint::open_serial(&path, 57_600, Duration::from_millis(500))
                .and_then(|link| R30x::connect(link, fingerprint::packet::DEFAULT_ADDRESS, 0))
                .map_err(|e| e.to_string())?;
            Ok((path, sensor))
        });
    match sensor {
        Ok((path, sensor)) => checks.push(Check::new(
            "sensor",
            format!("twin {path}"),
            sensor_check(sensor),
        )),
        Err(error) => checks.push(Check::new("sensor", "twin", Err(error))),
    }

    let link = std::env::temp_dir().join(format!("sajili-doctor-printer-{}", std::process::id()));
    let fonts = crate::simulate::printer_fonts();
    match fonts.and_then(|fonts| PrinterTwin::spawn(&link, fonts).map_err(|e| e.to_string())) {
        Ok(twin) => {
            let mut check = printer_check(twin.path());
            check.device = format!("twin {}", twin.path().display());
            checks.push(check);
            // The twin's thread lives on with the process; its node need not.
            twin.set_unplugged(true);
        }
        Err(error) => checks.push(Check::new("printer", "twin", Err(error))),
    }

    let recording = input::keymap::type_line("12345678", 0);
    let line = Scanner::new(ReplaySource::from_events(recording)).next_line();
    checks.push(Check::new(
        "scanner",
        "twin (replayed recording)",
        line.map(|text| format!("scanned {text:?}"))
            .map_err(|e| e.to_string()),
    ));
    checks
}

/// Below this much free space the status screen warns: about 8,000 enrolments' worth.
const DISK_LOW_BYTES: u64 = 512 << 20;

/// One fact on the status screen: which line, a fixed word the screens translate (empty for
/// none), the data beside it (numbers, ids, an error's own words), and whether it is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFact {
    /// The line: "device", "disk", "camera", ...
    pub key: &'static str,
    /// A word from a fixed list ("working", "never", ...), translated by the screens.
    pub word: &'static str,
    /// What the word cannot say: a number, an id, an error in its own words.
    pub detail: String,
    /// Shown as fine (true) or as a warning.
    pub good: bool,
}

impl StatusFact {
    /// A fact with a translated word and no detail.
    pub fn word(key: &'static str, word: &'static str, good: bool) -> Self {
        Self {
            key,
            word,
            detail: String::new(),
            good,
        }
    }

    /// A fact that is data only.
    pub fn detail(key: &'static str, detail: String, good: bool) -> Self {
        Self {
            key,
            word: "",
            detail,
            good,
        }
    }

    /// A fact that is a failure, in the error's own words.
    pub fn error(key: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            key,
            word: "error",
            detail: error.to_string(),
            good: false,
        }
    }
}

/// The status screen's quick facts about the device itself: its id and free storage.
pub fn quick_checks(device: &crate::device::Device) -> Vec<StatusFact> {
    let mut checks = Vec::new();
    match device.store.device_id() {
        Ok(Some(id)) => checks.push(StatusFact::detail("device", id, true)),
        Ok(None) => checks.push(StatusFact::word("device", "not-provisioned", false)),
        Err(error) => checks.push(StatusFact::error("device", error)),
    }
    match rustix::fs::statvfs(device.store.path()) {
        Ok(fs) => {
            let free = fs.f_bavail.saturating_mul(fs.f_frsize);
            checks.push(StatusFact::detail(
                "disk",
                format!("{} MB", free >> 20),
                free >= DISK_LOW_BYTES,
            ));
        }
        Err(error) => checks.push(StatusFact::error("disk", error)),
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kiosk_without_a_printer_is_told_so_and_does_not_fail() {
        let checks = printer_checks(&[]);
        assert_eq!(checks.len(), 1);
        assert!(checks[0].ok && !checks[0].fitted, "{checks:?}");
        assert!(checks[0].detail.contains("without a slip"), "{checks:?}");
    }

    #[test]
    fn a_printer_that_is_not_there_at_its_path_fails() {
        let gone = std::env::temp_dir().join(format!("sajili-no-printer-{}", std::process::id()));
        let checks = printer_checks(&[gone]);
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].ok && checks[0].fitted, "{checks:?}");
    }
}
