//! The kiosk's devices, each on its own thread so the screen never waits for them: the camera
//! streams checked frames while the photo screen is up, the sensor takes a print when asked,
//! the barcode scanner reads document numbers. Results come back as [`DeviceEvent`]s that the
//! kiosk collects on its timer. The device test on the staff screen asks the same threads, so
//! it checks each device as the kiosk holds it (a second opener would find it busy).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, sync_channel};
use std::thread;
use std::time::Duration;

use sajili_drivers::camera::{CameraError, Frame};
use sajili_drivers::fingerprint::{FingerImage, FingerprintSensor, SensorError};
use sajili_drivers::input::{EventSource, Scanner};

use crate::doctor::Check;

use crate::biometrics::face::{self, FaceChecker, FaceReport};
use crate::biometrics::grey::Grey;
use crate::biometrics::photo::Rgb;
use crate::biometrics::quality;
use crate::biometrics::{Image, ImageFormat, wsq};

/// How long the sensor waits for a finger per attempt.
pub const FINGER_WAIT: Duration = Duration::from_secs(15);
/// WSQ bitrate for prints: NIST's recommended 0.75 bits per pixel (about 15:1).
const WSQ_BITRATE: f32 = 0.75;

/// Something a device reported.
#[derive(Debug)]
pub enum DeviceEvent {
    /// A checked camera frame.
    Frame {
        /// The frame, for the preview.
        frame: Frame,
        /// Whether every check passed.
        passed: bool,
        /// The first failed check, as `<check>-low` or `<check>-high`.
        advice: Option<String>,
        /// The ISO token image (JPEG) when the frame passed.
        token: Option<Image>,
    },
    /// A print: WSQ image, score, advice codes.
    Print {
        /// The print, WSQ-encoded.
        image: Image,
        /// Quality 0-100.
        score: u8,
        /// Advice codes (`too_dry`, ...).
        advice: Vec<String>,
    },
    /// A device failed (`camera-unplugged`, `sensor-no-finger`, ...), or recovered (`None`).
    Fault(Option<String>),
    /// The scanner read a line.
    Scanned(String),
}

/// Opens the fingerprint sensor; called again after a failure, so an unplugged sensor comes
/// back when it is plugged in.
pub type SensorOpener =
    Box<dyn FnMut() -> Result<Box<dyn FingerprintSensor + Send>, SensorError> + Send>;

/// The next camera frame (blocking until one is ready).
pub type FrameReader = Box<dyn FnMut() -> Result<Frame, CameraError> + Send>;

/// The running device threads.
pub struct Devices {
    camera_on: Arc<AtomicBool>,
    camera_checks: Option<Sender<Answer>>,
    finger: Sender<SensorRequest>,
    events: Receiver<DeviceEvent>,
    events_in: SyncSender<DeviceEvent>,
    list_inputs: bool,
}

/// Where a device thread answers a check: what it found, or what is wrong.
type Answer = Sender<Result<String, String>>;

/// What the sensor thread is asked for.
enum SensorRequest {
    /// A print, answered as a [`DeviceEvent`].
    Capture,
    /// Whether the sensor answers.
    Check(Answer),
}

/// How long the device test waits for a device thread (the sensor may be mid-print).
const CHECK_WAIT: Duration = Duration::from_secs(20);

/// Runs the device checks through the kiosk's own device threads, from any thread.
#[derive(Clone)]
pub struct DeviceTester {
    camera: Option<Sender<Answer>>,
    sensor: Sender<SensorRequest>,
    list_inputs: bool,
}

impl DeviceTester {
    /// Checks the camera (a frame read and decoded) and the fingerprint sensor (it answers),
    /// then lists the input devices as `sajili doctor` does without grabbing any (the kiosk
    /// holds the scanners' grab). Blocks for up to 20 s a device.
    pub fn run(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let camera = match &self.camera {
            Some(camera) => ask(|answer| camera.send(answer).is_ok()),
            None => Err("no camera is set up on this kiosk".into()),
        };
        checks.push(Check::new("camera", "", camera));
        let sensor = ask(|answer| self.sensor.send(SensorRequest::Check(answer)).is_ok());
        checks.push(Check::new("sensor", "", sensor));
        if self.list_inputs {
            checks.extend(crate::doctor::check_inputs(false));
        }
        checks
    }
}

/// Sends a check to a device thread with `send` and waits for its answer.
fn ask(send: impl FnOnce(Answer) -> bool) -> Result<String, String> {
    let (answer, result) = std::sync::mpsc::channel();
    if !send(answer) {
        return Err("its thread has stopped: restart the kiosk".into());
    }
    result.recv_timeout(CHECK_WAIT).unwrap_or_else(|_| {
        Err(format!(
            "no answer within {} s: restart the kiosk",
            CHECK_WAIT.as_secs()
        ))
    })
}

impl Devices {
    /// Starts a thread for each device given.
    pub fn start(camera: Option<FrameReader>, sensor: Option<SensorOpener>) -> Self {
        // Small: a slow screen drops preview frames rather than queueing them.
        let (events_in, events) = sync_channel(4);
        let camera_on = Arc::new(AtomicBool::new(false));
        let camera_checks = camera.map(|camera| {
            let on = Arc::clone(&camera_on);
            let out = events_in.clone();
            let (checks, asked) = std::sync::mpsc::channel();
            thread::Builder::new()
                .name("camera".into())
                .spawn(move || camera_loop(camera, &on, &asked, &out))
                .ok();
            checks
        });
        let (finger, requests) = std::sync::mpsc::channel();
        match sensor {
            Some(sensor) => {
                let out = events_in.clone();
                thread::Builder::new()
                    .name("sensor".into())
                    .spawn(move || sensor_loop(sensor, &requests, &out))
                    .ok();
            }
            None => drop(requests),
        }
        Self {
            camera_on,
            camera_checks,
            finger,
            events,
            events_in,
            list_inputs: true,
        }
    }

    /// Leaves the machine's input devices out of the device test: for kiosks on twins, where
    /// they are the host's, not the kiosk's. Default: listed.
    pub fn without_input_list(mut self) -> Self {
        self.list_inputs = false;
        self
    }

    /// What runs the device checks, on another thread.
    pub fn tester(&self) -> DeviceTester {
        DeviceTester {
            camera: self.camera_checks.clone(),
            sensor: self.finger.clone(),
            list_inputs: self.list_inputs,
        }
    }

    /// Starts or stops the camera stream (it runs only while the photo screen is up).
    pub fn set_camera(&self, on: bool) {
        self.camera_on.store(on, Ordering::Relaxed);
    }

    /// Asks the sensor for one print.
    pub fn capture_finger(&self) {
        if self.finger.send(SensorRequest::Capture).is_err() {
            // No sensor thread: say so at once rather than wait forever.
            let _ = self
                .events_in
                .try_send(DeviceEvent::Fault(Some("sensor-failed".into())));
        }
    }

    /// Reads document numbers from a barcode scanner on its own thread until the scanner
    /// goes away (unplugged, or the end of a recording).
    pub fn start_scanner<S: EventSource + Send + 'static>(&self, source: S) {
        let out = self.events_in.clone();
        thread::Builder::new()
            .name("scanner".into())
            .spawn(move || {
                let mut scanner = Scanner::new(source);
                while let Ok(line) = scanner.next_line() {
                    if out.send(DeviceEvent::Scanned(line)).is_err() {
                        return;
                    }
                }
            })
            .ok();
    }

    /// Every event waiting, oldest first; prints and faults are never dropped, only the
    /// newest frame of a run of frames is kept.
    pub fn drain(&self) -> Vec<DeviceEvent> {
        let mut events: Vec<DeviceEvent> = Vec::new();
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    if matches!(event, DeviceEvent::Frame { .. })
                        && matches!(events.last(), Some(DeviceEvent::Frame { .. }))
                    {
                        events.pop();
                    }
                    events.push(event);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return events,
            }
        }
    }
}

/// `one_face-low`: the first failed check and which way it failed.
pub fn advice_code(report: &FaceReport) -> Option<String> {
    let check = report.checks.iter().find(|c| !c.passed)?;
    let name = serde_json::to_value(check.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let low = check
        .min
        .is_some_and(|min| check.value < min || check.value.is_nan());
    Some(format!("{name}-{}", if low { "low" } else { "high" }))
}

/// Checks one frame: whether it passed, the advice, and (when `want_token` and it passed)
/// the token image. The token costs a crop, a resample and a JPEG encode, so the camera
/// thread asks for it only once the frames have been steady long enough to take the photo.
pub fn check_frame(
    checker: &mut FaceChecker,
    frame: &Frame,
    want_token: bool,
) -> (bool, Option<String>, Option<Image>) {
    let Ok(rgb) = Rgb::new(frame.width, frame.height, frame.rgb.clone()) else {
        return (false, Some("one_face-low".into()), None);
    };
    let report = checker.check(&rgb);
    let passed = report.passed();
    let token = match (&report.eyes, passed && want_token) {
        (Some(eyes), true) => face::token_image(&rgb, eyes).ok().and_then(|token| {
            let jpeg = token.to_jpeg(face::TOKEN_QUALITY).ok()?;
            Some(Image {
                format: ImageFormat::Jpeg,
                width: token.width() as u32,
                height: token.height() as u32,
                data: jpeg,
            })
        }),
        _ => None,
    };
    (passed, advice_code(&report), token)
}

/// Reads a frame for the device test: the first after opening may be partial, so a few tries.
fn camera_check(next: &mut FrameReader) -> Result<String, String> {
    let mut last_error = String::new();
    for _ in 0..5 {
        match next() {
            Ok(frame) => return Ok(format!("{}x{} frame read", frame.width, frame.height)),
            Err(error) => last_error = error.to_string(),
        }
    }
    Err(last_error)
}

fn camera_loop(
    mut next: FrameReader,
    on: &AtomicBool,
    checks: &Receiver<Answer>,
    out: &SyncSender<DeviceEvent>,
) {
    let Ok(mut checker) = FaceChecker::new() else {
        let _ = out.send(DeviceEvent::Fault(Some("camera-failed".into())));
        // No face checks, but the device test still reaches the camera.
        while let Ok(answer) = checks.recv() {
            let _ = answer.send(camera_check(&mut next));
        }
        return;
    };
    let mut faulty = false;
    let mut steady = 0u32;
    loop {
        while let Ok(answer) = checks.try_recv() {
            let _ = answer.send(camera_check(&mut next));
        }
        if !on.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(40));
            continue;
        }
        match next() {
            Ok(frame) => {
                if faulty {
                    faulty = false;
                    let _ = out.send(DeviceEvent::Fault(None));
                }
                let want_token = steady + 1 >= crate::kiosk::PHOTO_STEADY_FRAMES;
                let (passed, advice, token) = check_frame(&mut checker, &frame, want_token);
                steady = if passed { steady + 1 } else { 0 };
                let event = DeviceEvent::Frame {
                    frame,
                    passed,
                    advice,
                    token,
                };
                if out.try_send(event).is_err() {
                    // The screen is behind: drop this frame.
                }
            }
            Err(CameraError::BadFrame(_)) => {}
            Err(error) => {
                if !faulty {
                    faulty = true;
                    let code = match error {
                        CameraError::Disconnected | CameraError::Open { .. } => "camera-unplugged",
                        _ => "camera-failed",
                    };
                    let _ = out.send(DeviceEvent::Fault(Some(code.into())));
                }
                thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

/// Grades and encodes one print: the sealed record carries WSQ, never the raw image.
pub fn process_print(image: &FingerImage) -> Option<DeviceEvent> {
    let grey = Grey::new(image.width, image.height, image.pixels.clone()).ok()?;
    let verdict = quality::assess(&grey);
    let advice = verdict
        .reasons
        .iter()
        .filter_map(|reason| {
            serde_json::to_value(reason)
                .ok()?
                .get("reason")?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let wsq = wsq::encode(&grey, WSQ_BITRATE, 500).ok()?;
    Some(DeviceEvent::Print {
        image: Image {
            format: ImageFormat::Wsq,
            width: image.width as u32,
            height: image.height as u32,
            data: wsq,
        },
        score: verdict.score,
        advice,
    })
}

/// Whether the sensor answers: one image asked for with no wait, so "no finger" is an answer.
fn sensor_check(
    open: &mut SensorOpener,
    sensor: &mut Option<Box<dyn FingerprintSensor + Send>>,
) -> Result<String, String> {
    if sensor.is_none() {
        *sensor = Some(open().map_err(|e| e.to_string())?);
    }
    let Some(device) = sensor.as_mut() else {
        return Err("not open".into());
    };
    let about = device.describe();
    let found = match device.capture(Duration::ZERO) {
        Ok(image) => format!("{}x{} image read", image.width, image.height),
        Err(SensorError::NoFinger) => "no finger on the glass".into(),
        Err(error) => {
            *sensor = None;
            return Err(error.to_string());
        }
    };
    Ok(format!(
        "{} answered at {} baud; {found}",
        about.family, about.baud
    ))
}

fn sensor_loop(
    mut open: SensorOpener,
    requests: &Receiver<SensorRequest>,
    out: &SyncSender<DeviceEvent>,
) {
    let mut sensor: Option<Box<dyn FingerprintSensor + Send>> = None;
    while let Ok(request) = requests.recv() {
        if let SensorRequest::Check(answer) = request {
            let _ = answer.send(sensor_check(&mut open, &mut sensor));
            continue;
        }
        if sensor.is_none() {
            match open() {
                Ok(opened) => sensor = Some(opened),
                Err(error) => {
                    let _ = out.send(DeviceEvent::Fault(Some(sensor_code(&error).into())));
                    continue;
                }
            }
        }
        let Some(device) = sensor.as_mut() else {
            continue;
        };
        let event = match device.capture(FINGER_WAIT) {
            Ok(image) => process_print(&image)
                .unwrap_or_else(|| DeviceEvent::Fault(Some("sensor-failed".into()))),
            Err(SensorError::NoFinger) => DeviceEvent::Fault(Some("sensor-no-finger".into())),
            Err(error) => {
                // Reconnect on the next request: the sensor may have been unplugged.
                sensor = None;
                DeviceEvent::Fault(Some(sensor_code(&error).into()))
            }
        };
        let _ = out.send(event);
    }
}

fn sensor_code(error: &SensorError) -> &'static str {
    match error {
        SensorError::Open { .. } | SensorError::NotAnswering | SensorError::Link(_) => {
            "sensor-unplugged"
        }
        _ => "sensor-failed",
    }
}
