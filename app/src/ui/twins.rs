//! The kiosk on its devices' simulated twins: a camera serving a public-domain face photo (or a
//! drawn specimen identity card, while the kiosk asks for the document), a fingerprint sensor on a pseudo-terminal serving synthetic prints, and a receipt printer on
//! another that prints slips into PNG pages. The kiosk's own driver
//! code runs unchanged against them.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sajili_drivers::camera::{Camera, CameraFaults, CameraTwin, PixelFormat};
use sajili_drivers::fingerprint::{self, FingerprintSensor, R30x, Twin, TwinConfig};

use sajili_drivers::printer::{EscPosPrinter, PrinterTwin, ReceiptPrinter};

use super::devices::{Devices, FrameReader, PrinterOpener, SensorOpener};
use crate::biometrics::photo::Rgb;
use crate::biometrics::specimen;
use crate::biometrics::synth::SyntheticFinger;

/// Head and shoulders of NASA's public-domain portrait of Eileen Collins (scikit-image's
/// astronaut.png), framed as a 640 x 480 camera would see an applicant.
pub const DEMO_FACE: &[u8] = include_bytes!("../../assets/demo-face.jpg");

/// The camera twin: the demo face, moving by a few pixels, as MJPEG at 15 frames a second.
pub fn camera() -> Result<FrameReader, String> {
    camera_at(15)
}

/// The camera twin at `fps` frames a second (the benchmark asks for more than any camera).
pub fn camera_at(fps: u32) -> Result<FrameReader, String> {
    camera_with_plug(fps).map(|(reader, _)| reader)
}

/// The camera twin and its cable: set the switch to unplug it, clear it to plug it back.
pub fn camera_with_plug(fps: u32) -> Result<(FrameReader, Arc<AtomicBool>), String> {
    camera_with_cue(fps).map(|(reader, plug, _)| (reader, plug))
}

/// The camera twin, its cable, and its cue: while the cue is set, the applicant holds a
/// drawn specimen identity card up to the camera instead of looking into it.
pub fn camera_with_cue(
    fps: u32,
) -> Result<(FrameReader, Arc<AtomicBool>, Arc<AtomicBool>), String> {
    let face = Rgb::decode(DEMO_FACE).map_err(|e| e.to_string())?;
    camera_of(&face, fps)
}

/// The camera twin at a hospital's bedside: the demo face turned a quarter, as a camera held
/// over someone lying on their side sees them. No face check passes on it.
pub fn camera_lying(fps: u32) -> Result<FrameReader, String> {
    let face = Rgb::decode(DEMO_FACE).map_err(|e| e.to_string())?;
    let (width, height) = (face.width(), face.height());
    let mut turned = Vec::with_capacity(width * height * 3);
    // Row y of the turned picture is column y of the face, read bottom to top.
    for y in 0..width {
        for x in 0..height {
            let i = ((height - 1 - x) * width + y) * 3;
            turned.extend_from_slice(&face.pixels()[i..i + 3]);
        }
    }
    let turned = Rgb::new(height, width, turned).map_err(|e| e.to_string())?;
    camera_of(&turned, fps).map(|(reader, _, _)| reader)
}

/// The camera twin serving `face`, swaying by a few pixels, as MJPEG at `fps`; its cable; and
/// its cue to hold the specimen card up instead.
fn camera_of(
    face: &Rgb,
    fps: u32,
) -> Result<(FrameReader, Arc<AtomicBool>, Arc<AtomicBool>), String> {
    let (width, height) = (face.width(), face.height());
    // Slight shifts, as a person standing in front of the camera sways.
    let frames: Vec<Vec<u8>> = [0i32, 2, 4, 2, 0, -2]
        .iter()
        .map(|&dx| {
            let mut shifted = Vec::with_capacity(width * height * 3);
            for y in 0..height {
                for x in 0..width {
                    let sx = (x as i32 + dx).clamp(0, width as i32 - 1) as usize;
                    let i = (y * width + sx) * 3;
                    shifted.extend_from_slice(&face.pixels()[i..i + 3]);
                }
            }
            shifted
        })
        .collect();
    // The card held in a hand: turned a little one way and the other.
    let held: Vec<Vec<u8>> = [1.5f32, 2.0, 2.5, 2.0]
        .iter()
        .map(|&tilt_degrees| {
            specimen::held_up(
                width,
                height,
                &specimen::Held {
                    tilt_degrees,
                    ..specimen::Held::default()
                },
            )
        })
        .collect();
    let cue = Arc::new(AtomicBool::new(false));
    let twin = CameraTwin::new(
        PixelFormat::Mjpeg,
        width as u32,
        height as u32,
        &frames,
        fps,
        CameraFaults::default(),
    )
    .with_alternate(&held, Arc::clone(&cue));
    let plug = twin.unplug_switch();
    let mut camera = Camera::new(twin);
    Ok((Box::new(move || camera.next_frame()), plug, cue))
}

/// Fewest fingers the twin serves: one per position, so that an enrolment never gets one
/// finger twice (the kiosk refuses a finger already taken).
pub const TWIN_FINGERS: u64 = 10;

/// Prints the sensor twin serves in turn: three impressions each of `fingers` synthetic
/// fingers (at least [`TWIN_FINGERS`]), impression 0 of every finger, then impression 1 of
/// every finger, then 2. Print `j` is finger `j` modulo the count, so any ten prints in a row
/// are ten different fingers, as a person giving one finger after another. Growing a finger's
/// ridges is the slow part (~0.3 s), so each count is made once per process.
pub fn prints(fingers: u64) -> Vec<Vec<u8>> {
    static MADE: Mutex<Vec<(u64, Vec<Vec<u8>>)>> = Mutex::new(Vec::new());
    let fingers = fingers.max(TWIN_FINGERS);
    let mut made = MADE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, prints)) = made.iter().find(|(count, _)| *count == fingers) {
        return prints.clone();
    }
    let grown: Vec<SyntheticFinger> = (1..=fingers)
        .map(|seed| SyntheticFinger::new(seed, 256, 288))
        .collect();
    let prints: Vec<Vec<u8>> = (0..3)
        .flat_map(|k| grown.iter().map(move |finger| finger.impression(k)))
        .collect();
    made.push((fingers, prints.clone()));
    prints
}

/// The sensor twin on a new pty, serving `images`; returns how to open it.
pub fn sensor(images: Vec<Vec<u8>>) -> Result<SensorOpener, String> {
    sensor_with_plug(images).map(|(opener, _)| opener)
}

/// The sensor twin and its cable: while the switch is set it answers nothing.
pub fn sensor_with_plug(images: Vec<Vec<u8>>) -> Result<(SensorOpener, Arc<AtomicBool>), String> {
    let twin = Twin::new(TwinConfig {
        images,
        polls_before_finger: 2,
        ..TwinConfig::default()
    });
    let plug = twin.unplug_switch();
    let path = twin
        .spawn_on_pty()
        .map_err(|e| format!("the sensor twin did not start: {e}"))?;
    let path = path.to_string_lossy().into_owned();
    let opener: SensorOpener = Box::new(move || {
        let link = fingerprint::open_serial(&path, 57_600, Duration::from_millis(500))?;
        let sensor = R30x::connect(link, fingerprint::packet::DEFAULT_ADDRESS, 0)?;
        Ok(Box::new(sensor) as Box<dyn FingerprintSensor + Send>)
    });
    Ok((opener, plug))
}

/// How long the driver waits for each status answer: a USB printer answers in milliseconds.
pub const PRINTER_TIMEOUT: Duration = Duration::from_millis(500);

/// The printer twin, its device node a link in the system's temporary folder (unique to this
/// process and twin), and how the kiosk opens it. The twin's switches take its paper, open its
/// cover or pull its cable; its pages are what it printed.
pub fn printer() -> Result<(PrinterOpener, PrinterTwin), String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let link = std::env::temp_dir().join(format!("sajili-printer-{}-{n}", std::process::id()));
    let twin = PrinterTwin::spawn(&link, crate::simulate::printer_fonts()?)
        .map_err(|e| format!("the printer twin did not start: {e}"))?;
    let opener: PrinterOpener = Box::new(move || {
        let printer = EscPosPrinter::open(&link, PRINTER_TIMEOUT)?;
        Ok(Box::new(printer) as Box<dyn ReceiptPrinter + Send>)
    });
    Ok((opener, twin))
}

/// Every twin, running. The device test checks the twins alone: the machine's own input
/// devices are not the kiosk's.
pub fn devices(fingers: u64) -> Result<Devices, String> {
    devices_with_printer(fingers).map(|(devices, _)| devices)
}

/// Every twin, running, and the printer twin's switches and pages.
pub fn devices_with_printer(fingers: u64) -> Result<(Devices, PrinterTwin), String> {
    let (printer, twin) = printer()?;
    let (camera, _, cue) = camera_with_cue(15)?;
    let devices = Devices::start(Some(camera), Some(sensor(prints(fingers))?))
        .without_input_list()
        .with_printer(printer)
        .with_twin_cue(cue);
    Ok((devices, twin))
}
