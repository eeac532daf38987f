//! `sajili kiosk`, `sajili demo` and `sajili staff`: the touchscreen program and what it needs.

use std::io::BufRead;
use std::path::PathBuf;

use clap::Subcommand;
use sajili::clock::SystemClock;
use sajili::device::{self, DataDir};
use sajili::staff::{self, Role};
use sajili::ui::{self, App, KioskWindow, demo, devices::Devices, twins};

use crate::Failure;

/// `sajili staff ...`.
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add an operator or supervisor (or change their PIN, enabling them again). Reads the
    /// PIN (6 to 12 digits) from standard input, so it stays out of the shell's history and
    /// the process list.
    Add {
        /// Staff number, e.g. OP-1001.
        #[arg(long)]
        number: String,
        /// What they may do.
        #[arg(long, value_enum)]
        role: Role,
    },
    /// Disable a staff member: they can no longer sign in, nor be named in a record sealed
    /// on this device.
    Disable {
        /// Staff number.
        #[arg(long)]
        number: String,
    },
    /// Check a staff number and PIN (from standard input) as the sign-in screen does, after
    /// taking what the uplink handed over: exits 0 and prints the role if they may sign in.
    /// A wrong PIN counts towards the lockout, as on the screen.
    Check {
        /// Staff number.
        #[arg(long)]
        number: String,
    },
}

/// `sajili staff add` and `sajili staff disable`.
pub fn staff(data: &DataDir, command: StaffCommand) -> Result<(), Failure> {
    let mut device = device::open(data)?;
    let failure = |error: staff::StaffError| match error {
        staff::StaffError::Store(error) => Failure::Failed(error.to_string()),
        other => Failure::Input(other.to_string()),
    };
    match command {
        StaffCommand::Add { number, role } => {
            let mut pin = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut pin)
                .map_err(|e| Failure::Input(format!("reading the PIN: {e}")))?;
            staff::add(&device.store, &number, role, pin.trim()).map_err(failure)?;
            println!("{number} can now sign in as {role:?}");
        }
        StaffCommand::Disable { number } => {
            staff::disable(&device.store, &number).map_err(failure)?;
            println!("{number} is disabled on this device");
        }
        StaffCommand::Check { number } => {
            let now = sajili::clock::Clock::now(&SystemClock);
            if let Err(error) = sajili::kiosk::handoff(&mut device, now) {
                log::warn!("hand-off before the check: {error}");
            }
            let mut pin = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut pin)
                .map_err(|e| Failure::Input(format!("reading the PIN: {e}")))?;
            match staff::sign_in(&device.store, &number, pin.trim(), now).map_err(failure)? {
                staff::SignIn::Accepted(role) => println!("{number} signs in as {role}"),
                staff::SignIn::Locked { seconds } => {
                    return Err(Failure::Input(format!(
                        "{number} is locked for {seconds} s after wrong PINs"
                    )));
                }
                staff::SignIn::Unknown | staff::SignIn::Refused => {
                    return Err(Failure::Input(format!("{number} cannot sign in here")));
                }
            }
        }
    }
    Ok(())
}

/// `sajili kiosk`: the appliance's program.
pub fn kiosk(data: &DataDir, simulate: bool, camera_twin: bool) -> Result<(), Failure> {
    // Which root (A/B slot) is running: the first thing to know after an update.
    let root = running_root().unwrap_or_else(|| "unknown".into());
    log::info!("Sajili {} starting, root {root}", env!("CARGO_PKG_VERSION"));
    // No keys: the field step was skipped. Say so on the screen rather than fail and be
    // restarted on a black one.
    let key = data.signing_key_path();
    if !simulate && !key.exists() {
        log::warn!(
            "not set up: no keys in {}; showing how to set the device up",
            data.root().display()
        );
        let window = KioskWindow::new().map_err(|e| Failure::Failed(e.to_string()))?;
        return ui::run_not_set_up(window, move || key.exists())
            .map_err(|e| Failure::Failed(e.to_string()));
    }
    let device = open_waiting(data, std::time::Duration::from_secs(60))?;
    let devices = if simulate {
        twins::devices(4).map_err(Failure::Failed)?
    } else {
        let camera = if camera_twin {
            log::info!("camera: the simulated twin");
            twins::camera().map_err(Failure::Failed)?
        } else {
            v4l_camera()
        };
        real_devices(camera)
    };
    let window = KioskWindow::new().map_err(|e| Failure::Failed(e.to_string()))?;
    let app = App::new(device, devices, Box::new(SystemClock), window);
    ui::run(app).map_err(|e| Failure::Failed(e.to_string()))
}

/// The partition name (GPT label) of the filesystem mounted at `/`, e.g. `sajili-root-b`:
/// from this process's mount table and the block device's uevent, both readable inside the
/// kiosk's sandbox (unlike /proc/cmdline).
fn running_root() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let device = mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(4) == Some(&"/")).then(|| fields.get(2).map(|d| d.to_string()))?
    })?;
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{device}/uevent")).ok()?;
    uevent
        .lines()
        .find_map(|line| line.strip_prefix("PARTNAME=").map(String::from))
        .or(Some(device))
}

/// Opens the device, waiting up to `patience` while another Sajili process (first-boot
/// provisioning, a staff command) has the store open: the kiosk comes up as soon as it can
/// rather than failing and being restarted.
fn open_waiting(data: &DataDir, patience: std::time::Duration) -> Result<device::Device, Failure> {
    use sajili::device::DeviceError;
    use sajili::store::StoreError;
    let started = std::time::Instant::now();
    loop {
        match device::open(data) {
            Err(DeviceError::Store(StoreError::InUse { .. })) if started.elapsed() < patience => {
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            other => return other.map_err(Failure::from),
        }
    }
}

/// The first V4L camera; a missing one shows as a device fault on the photo screen, and is
/// looked for again when needed.
fn v4l_camera() -> ui::devices::FrameReader {
    use sajili_drivers::camera::{Camera, CameraError, V4lSource, list_cameras};
    let mut camera: Option<Camera<V4lSource>> = None;
    Box::new(move || {
        if camera.is_none() {
            let found = list_cameras()
                .into_iter()
                .next()
                .ok_or(CameraError::Disconnected)?;
            let source = V4lSource::open(&found.path, (640, 480))?;
            let (format, width, height) = sajili_drivers::camera::FrameSource::format(&source);
            log::info!(
                "camera: {} ({}), {width}x{height} {}",
                found.path.display(),
                found.name,
                String::from_utf8_lossy(&format.fourcc())
            );
            camera = Some(Camera::new(source));
        }
        let result = camera
            .as_mut()
            .map_or(Err(CameraError::Disconnected), Camera::next_frame);
        if matches!(result, Err(CameraError::Open { .. })) {
            camera = None;
        }
        result
    })
}

/// `camera` and the first USB-serial bridge's sensor; a missing sensor shows as a device
/// fault on its screen, and is looked for again when needed.
fn real_devices(camera: ui::devices::FrameReader) -> Devices {
    use sajili_drivers::fingerprint::{self, FingerprintSensor, R30x, SensorError, discover};
    use std::path::Path;
    use std::time::Duration;

    let sensor: ui::devices::SensorOpener = Box::new(|| {
        let bridge = discover::find_bridges(Path::new("/sys/class/tty"), Path::new("/dev"))
            .into_iter()
            .next()
            .ok_or(SensorError::NotAnswering)?;
        let path = bridge.device.to_string_lossy().into_owned();
        let link = fingerprint::open_serial(&path, 57_600, Duration::from_millis(500))?;
        let sensor = R30x::connect(link, fingerprint::packet::DEFAULT_ADDRESS, 0)?;
        Ok(Box::new(sensor) as Box<dyn FingerprintSensor + Send>)
    });
    // The first receipt printer, looked for again at each slip: one plugged in later is used.
    let printer: ui::devices::PrinterOpener = Box::new(|| {
        use sajili_drivers::printer::{EscPosPrinter, PrinterError, ReceiptPrinter};
        let path = sajili::doctor::printer_paths()
            .into_iter()
            .next()
            .ok_or_else(|| PrinterError::Unplugged {
                path: "/dev/usb/lp*".into(),
            })?;
        let printer = EscPosPrinter::open(&path, twins::PRINTER_TIMEOUT)?;
        Ok(Box::new(printer) as Box<dyn ReceiptPrinter + Send>)
    });
    let devices = Devices::start(Some(camera), Some(sensor)).with_printer(printer);
    // Known scanners whenever they are plugged in, read; every other device that can type
    // (a keyboard plugged in later) grabbed and silenced, so nothing types into the screens
    // but the on-screen keyboard.
    use sajili_drivers::input::{EvdevNodes, HotplugSource, hotplug};
    let source = HotplugSource::start(EvdevNodes::new(Path::new("/dev/input")), hotplug::RESCAN);
    log_input_devices(source.handled_list());
    devices.start_scanner(source);
    devices
}

/// Says in the journal what was done with each input device as it appears: field staff see
/// why a scanner does not read (not a known one) or a keyboard does nothing.
fn log_input_devices(
    handled: std::sync::Arc<std::sync::Mutex<Vec<sajili_drivers::input::hotplug::Handled>>>,
) {
    std::thread::Builder::new()
        .name("input-log".into())
        .spawn(move || {
            let mut said = 0;
            loop {
                let new: Vec<_> = handled
                    .lock()
                    .map(|list| list.iter().skip(said).cloned().collect())
                    .unwrap_or_default();
                said += new.len();
                for device in new {
                    if device.error.is_some() {
                        log::warn!("input device {device}");
                    } else {
                        log::info!("input device {device}");
                    }
                }
                std::thread::sleep(sajili_drivers::input::hotplug::RESCAN);
            }
        })
        .ok();
}

/// `sajili demo`.
pub fn demo(screenshots: Option<PathBuf>) -> Result<(), Failure> {
    let scratch = tempfile_dir()?;
    let data = scratch.join("data");
    let shots = match screenshots {
        Some(dir) => dir,
        None if demo::has_display() => {
            println!(
                "Demo data in {} (operator {} PIN {}, supervisor {} PIN {})",
                data.display(),
                demo::OPERATOR.0,
                demo::OPERATOR.1,
                demo::SUPERVISOR.0,
                demo::SUPERVISOR.1
            );
            return demo::window(&data).map_err(|e| Failure::Failed(format!("{e:#}")));
        }
        None => {
            let dir = scratch.join("screens");
            println!(
                "No display here: running the kiosk headless, screens go to {}",
                dir.display()
            );
            dir
        }
    };
    let numbers =
        demo::screenshots(&shots, &data).map_err(|e| Failure::Failed(format!("{e:#}")))?;
    println!("Screens of each step: {}", shots.display());
    if let Some(last) = numbers.last() {
        println!("Registration number: {last}");
    }
    Ok(())
}

/// A fresh folder under the system's temporary directory, kept after the demo for a look.
fn tempfile_dir() -> Result<PathBuf, Failure> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| Failure::Failed(e.to_string()))?;
    let dir = std::env::temp_dir().join(format!("sajili-demo-{}", sajili::record::hex(&bytes)));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Failed(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}
