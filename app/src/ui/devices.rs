//! The kiosk's devices, each on its own thread so the screen never waits for them: the camera
//! streams checked frames while the photo screen is up, the sensor takes a print when asked,
//! the barcode scanner reads document numbers, the receipt printer prints slips (and says when
//! its paper or cover needs a hand). Results come back as [`DeviceEvent`]s that the
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
use sajili_drivers::printer::{PrinterError, PrinterStatus, ReceiptPrinter};

use crate::doctor::Check;

use crate::biometrics::document::{self, DocumentProblem};
use crate::biometrics::face::{self, FaceChecker, FaceReport};
use crate::biometrics::grey::Grey;
use crate::biometrics::matching::{self, Template};
use crate::biometrics::photo::Rgb;
use crate::biometrics::quality;
use crate::biometrics::{Image, ImageFormat, wsq};
use crate::form::FaceCheck;
use crate::kiosk::{KeptPrint, PrintCheck, Reference};

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
    /// A camera frame searched for the identity document.
    Document {
        /// The frame, for the preview.
        frame: Frame,
        /// The first problem's code (`document-glare`, ...), `None` when it passed.
        advice: Option<String>,
        /// The document cut out and compressed within its budget, when it passed and an
        /// image was wanted.
        image: Option<Image>,
    },
    /// A photo taken from a frame whatever its checks said (a bedside override).
    Forced {
        /// The photo: the ISO token image, or the frame's centre in its shape (JPEG).
        token: Image,
        /// The checks the frame failed.
        failed: Vec<FaceCheck>,
    },
    /// A print: WSQ image, score, advice codes.
    Print {
        /// The print, WSQ-encoded.
        image: Image,
        /// Quality 0-100.
        score: u8,
        /// Advice codes (`too_dry`, ...).
        advice: Vec<String>,
        /// Its template and picture, and the kept finger it matched, if any.
        check: PrintCheck,
    },
    /// A device failed (`camera-unplugged`, `sensor-no-finger`, ...), or recovered (`None`).
    Fault(Option<String>),
    /// The scanner read a line.
    Scanned(String),
    /// The printer's news: a slip printing or printed, or why it cannot print.
    Printer(PrinterState),
}

/// How the receipt printer is, as the screens tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterState {
    /// A slip is on its way.
    Printing,
    /// The last slip came out whole.
    Printed,
    /// Ready, nothing printed since it last was not.
    Ready,
    /// The roll is out.
    PaperOut,
    /// The cover is open.
    CoverOpen,
    /// No printer on the cable.
    Unplugged,
    /// It does not answer, or reports an error.
    Failed,
}

impl PrinterState {
    /// Its code on the screens (`paper-out`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::Printing => "printing",
            Self::Printed => "printed",
            Self::Ready => "ready",
            Self::PaperOut => "paper-out",
            Self::CoverOpen => "cover-open",
            Self::Unplugged => "unplugged",
            Self::Failed => "failed",
        }
    }

    /// Whether the printer can print now.
    pub fn ok(self) -> bool {
        matches!(self, Self::Printing | Self::Printed | Self::Ready)
    }

    /// What a status says, for a printer that is not ready (a ready one is `Ready`).
    pub fn of_status(status: &PrinterStatus) -> Self {
        if status.cover_open {
            Self::CoverOpen
        } else if status.paper_out {
            Self::PaperOut
        } else if status.ready() {
            Self::Ready
        } else {
            Self::Failed
        }
    }

    /// What a failure says.
    pub fn of_error(error: &PrinterError) -> Self {
        match error {
            PrinterError::Unplugged { .. } => Self::Unplugged,
            PrinterError::NotReady(status) => Self::of_status(status),
            _ => Self::Failed,
        }
    }
}

/// Opens the fingerprint sensor; called again after a failure, so an unplugged sensor comes
/// back when it is plugged in.
pub type SensorOpener =
    Box<dyn FnMut() -> Result<Box<dyn FingerprintSensor + Send>, SensorError> + Send>;

/// Opens the receipt printer; called again after a failure, so one plugged back in is found.
pub type PrinterOpener =
    Box<dyn FnMut() -> Result<Box<dyn ReceiptPrinter + Send>, PrinterError> + Send>;

/// How often an idle printer is asked how it is, so the staff screen learns of an open cover
/// or an empty roll before the next slip.
const PRINTER_POLL: Duration = Duration::from_secs(5);

/// The next camera frame (blocking until one is ready).
pub type FrameReader = Box<dyn FnMut() -> Result<Frame, CameraError> + Send>;

/// The running device threads.
pub struct Devices {
    camera_on: Arc<AtomicBool>,
    camera_force: Arc<AtomicBool>,
    /// The camera looks for the identity document rather than a face.
    camera_document: Arc<AtomicBool>,
    /// The camera twin's applicant, who holds the document up while it is asked for.
    twin_cue: Option<Arc<AtomicBool>>,
    camera_checks: Option<Sender<Answer>>,
    finger: Sender<SensorRequest>,
    printer: Option<Sender<PrinterRequest>>,
    events: Receiver<DeviceEvent>,
    events_in: SyncSender<DeviceEvent>,
    list_inputs: bool,
}

/// Where a device thread answers a check: what it found, or what is wrong.
type Answer = Sender<Result<String, String>>;

/// What the sensor thread is asked for.
enum SensorRequest {
    /// A print, answered as a [`DeviceEvent`], compared with the prints already kept.
    Capture(Vec<KeptPrint>),
    /// Whether the sensor answers.
    Check(Answer),
}

/// What the printer thread is asked for.
enum PrinterRequest {
    /// Print this ESC/POS job, answered as [`DeviceEvent::Printer`]s.
    Print(Vec<u8>),
    /// How the printer is.
    Check(Answer),
}

/// How long the device test waits for a device thread (the sensor may be mid-print).
const CHECK_WAIT: Duration = Duration::from_secs(20);

/// Runs the device checks through the kiosk's own device threads, from any thread.
#[derive(Clone)]
pub struct DeviceTester {
    camera: Option<Sender<Answer>>,
    sensor: Sender<SensorRequest>,
    printer: Option<Sender<PrinterRequest>>,
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
        if let Some(printer) = &self.printer {
            let found = ask(|answer| printer.send(PrinterRequest::Check(answer)).is_ok());
            checks.push(Check::new("printer", "", found));
        }
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
        let camera_force = Arc::new(AtomicBool::new(false));
        let camera_document = Arc::new(AtomicBool::new(false));
        let camera_checks = camera.map(|camera| {
            let on = Arc::clone(&camera_on);
            let force = Arc::clone(&camera_force);
            let document = Arc::clone(&camera_document);
            let out = events_in.clone();
            let (checks, asked) = std::sync::mpsc::channel();
            thread::Builder::new()
                .name("camera".into())
                .spawn(move || {
                    let asks = CameraAsks {
                        on: &on,
                        force: &force,
                        document: &document,
                    };
                    camera_loop(camera, &asks, &asked, &out);
                })
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
            camera_force,
            camera_document,
            twin_cue: None,
            camera_checks,
            finger,
            printer: None,
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

    /// Adds the receipt printer, on a thread of its own: a printer that hangs or fails holds
    /// up nothing else.
    pub fn with_printer(mut self, open: PrinterOpener) -> Self {
        let (requests_in, requests) = std::sync::mpsc::channel();
        let out = self.events_in.clone();
        let started = thread::Builder::new()
            .name("printer".into())
            .spawn(move || printer_loop(open, &requests, &out));
        if started.is_ok() {
            self.printer = Some(requests_in);
        }
        self
    }

    /// Whether the kiosk has a printer to print slips on.
    pub fn has_printer(&self) -> bool {
        self.printer.is_some()
    }

    /// Prints an ESC/POS job on the printer's thread; returns at once. Without a printer
    /// thread, says so as a fault.
    pub fn print(&self, job: Vec<u8>) {
        let sent = self
            .printer
            .as_ref()
            .is_some_and(|printer| printer.send(PrinterRequest::Print(job)).is_ok());
        if !sent {
            let _ = self
                .events_in
                .try_send(DeviceEvent::Printer(PrinterState::Failed));
        }
    }

    /// What runs the device checks, on another thread.
    pub fn tester(&self) -> DeviceTester {
        DeviceTester {
            camera: self.camera_checks.clone(),
            sensor: self.finger.clone(),
            printer: self.printer.clone(),
            list_inputs: self.list_inputs,
        }
    }

    /// Starts or stops the camera stream (it runs only while the photo screen is up).
    pub fn set_camera(&self, on: bool) {
        self.camera_on.store(on, Ordering::Relaxed);
    }

    /// Has the camera look for the identity document (true) or a face (false).
    pub fn set_document_camera(&self, document: bool) {
        self.camera_document.store(document, Ordering::Relaxed);
        if let Some(cue) = &self.twin_cue {
            cue.store(document, Ordering::Relaxed);
        }
    }

    /// On twins: the camera twin's applicant holds the document up whenever the kiosk asks
    /// for it (the switch is set while it does). Default: no twin to tell.
    pub fn with_twin_cue(mut self, cue: Arc<AtomicBool>) -> Self {
        self.twin_cue = Some(cue);
        self
    }

    /// Takes the photo from the next frame whatever its checks say, answered as
    /// [`DeviceEvent::Forced`] (an operator's override at a hospital's bedside).
    pub fn force_photo(&self) {
        self.camera_force.store(true, Ordering::Relaxed);
    }

    /// Asks the sensor for one print, to be compared (on the sensor's thread) with the prints
    /// the enrolment keeps under other fingers.
    pub fn capture_finger(&self, kept: Vec<KeptPrint>) {
        if self.finger.send(SensorRequest::Capture(kept)).is_err() {
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
    /// newest frame of a run of frames (of a face or of the document) is kept.
    pub fn drain(&self) -> Vec<DeviceEvent> {
        let mut events: Vec<DeviceEvent> = Vec::new();
        loop {
            match self.events.try_recv() {
                Ok(event) => {
                    let preview = |e: &DeviceEvent| {
                        matches!(e, DeviceEvent::Frame { .. } | DeviceEvent::Document { .. })
                    };
                    if preview(&event) && events.last().is_some_and(preview) {
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

/// A photo from `frame` whatever its checks say, and the checks it failed: the ISO token image
/// when the eyes were found, else the frame's centre cut to the token's shape (a head lying on
/// a pillow may show no eyes the detector knows).
pub fn forced_photo(checker: &mut FaceChecker, frame: &Frame) -> Option<(Image, Vec<FaceCheck>)> {
    let rgb = Rgb::new(frame.width, frame.height, frame.rgb.clone()).ok()?;
    let report = checker.check(&rgb);
    let failed = report
        .checks
        .iter()
        .filter(|check| !check.passed)
        .map(|check| check.kind)
        .collect();
    let token = match &report.eyes {
        Some(eyes) => face::token_image(&rgb, eyes).ok()?,
        None => centre_cut(&rgb)?,
    };
    let jpeg = token.to_jpeg(face::TOKEN_QUALITY).ok()?;
    Some((
        Image {
            format: ImageFormat::Jpeg,
            width: token.width() as u32,
            height: token.height() as u32,
            data: jpeg,
        },
        failed,
    ))
}

/// The largest centred part of `frame` in the token image's shape, at its size.
fn centre_cut(frame: &Rgb) -> Option<Rgb> {
    let (width, height) = (face::TOKEN_WIDTH as f32, face::TOKEN_HEIGHT as f32);
    let scale = (frame.width() as f32 / width).min(frame.height() as f32 / height);
    let (x0, y0) = (
        (frame.width() as f32 - width * scale) / 2.0,
        (frame.height() as f32 - height * scale) / 2.0,
    );
    let mut pixels = Vec::with_capacity(face::TOKEN_WIDTH * face::TOKEN_HEIGHT * 3);
    for v in 0..face::TOKEN_HEIGHT {
        for u in 0..face::TOKEN_WIDTH {
            let x = (x0 + (u as f32 + 0.5) * scale).min(frame.width() as f32 - 1.0);
            let y = (y0 + (v as f32 + 0.5) * scale).min(frame.height() as f32 - 1.0);
            let colour = frame.sample(x, y).unwrap_or([128.0; 3]);
            pixels.extend(colour.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    Rgb::new(face::TOKEN_WIDTH, face::TOKEN_HEIGHT, pixels).ok()
}

/// Searches one frame for the identity document: the first problem's code, and (when
/// `want_image` and it passed) the document cut out and compressed within its budget. The
/// cut-out and its encoding are the costly part, so the camera thread asks for them only once
/// the frames have been steady long enough to keep one.
pub fn document_frame(frame: &Frame, want_image: bool) -> (Option<String>, Option<Image>) {
    let Ok(rgb) = Rgb::new(frame.width, frame.height, frame.rgb.clone()) else {
        return (Some(DocumentProblem::NotFound.code().into()), None);
    };
    let report = document::inspect(&rgb);
    if let Some(problem) = report.problem {
        return (Some(problem.code().into()), None);
    }
    if !want_image {
        return (None, None);
    }
    let image = report.cut_out.as_ref().and_then(|cut| {
        match document::compress(cut, document::BUDGET_BYTES) {
            Ok(image) => Some(image),
            Err(error) => {
                log::warn!("document photo not kept: {error}");
                None
            }
        }
    });
    (None, image)
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

/// What the kiosk asks of the camera thread, each switch set from the screen's thread.
struct CameraAsks<'a> {
    /// Stream and check frames.
    on: &'a AtomicBool,
    /// Take the photo from the next frame whatever its checks say.
    force: &'a AtomicBool,
    /// Look for the identity document rather than a face.
    document: &'a AtomicBool,
}

fn camera_loop(
    mut next: FrameReader,
    asks: &CameraAsks<'_>,
    checks: &Receiver<Answer>,
    out: &SyncSender<DeviceEvent>,
) {
    let (on, force) = (asks.on, asks.force);
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
    let mut document_steady = 0u32;
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
                if asks.document.load(Ordering::Relaxed) {
                    let want_image = document_steady + 1 >= crate::kiosk::PHOTO_STEADY_FRAMES;
                    let (advice, image) = document_frame(&frame, want_image);
                    document_steady = if advice.is_none() {
                        document_steady + 1
                    } else {
                        0
                    };
                    let event = DeviceEvent::Document {
                        frame,
                        advice,
                        image,
                    };
                    // A slow screen drops this frame, as it does a face frame.
                    let _ = out.try_send(event);
                    continue;
                }
                document_steady = 0;
                if force.swap(false, Ordering::Relaxed)
                    && let Some((token, failed)) = forced_photo(&mut checker, &frame)
                {
                    // Asked for once: waits for room rather than being dropped as a preview
                    // frame would be.
                    let _ = out.send(DeviceEvent::Forced { token, failed });
                    continue;
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

/// Grades and encodes one print (the sealed record carries WSQ, never the raw image), finds
/// its minutiae and compares them with each print in `kept`: the first it matches (the highest
/// score at or above the threshold) is the finger presented again.
pub fn process_print(image: &FingerImage, kept: &[KeptPrint]) -> Option<DeviceEvent> {
    let grey = Grey::new(image.width, image.height, image.pixels.clone()).ok()?;
    // A print whose minutiae cannot be found is still kept on its quality: the check is a
    // safeguard, not a gate.
    let template = Template::new(&grey).ok();
    let same_as = template.as_ref().and_then(|template| {
        kept.iter()
            .filter_map(|print| {
                let verdict = match &print.reference {
                    Reference::Template(other) => matching::compare(template, other),
                    Reference::Print(wsq) => {
                        let other = Template::new(&wsq::decode(&wsq.data).ok()?.picture).ok()?;
                        matching::compare(template, &other)
                    }
                };
                verdict.same_finger.then_some((verdict.score, print.finger))
            })
            .max()
            .map(|(_, finger)| finger)
    });
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
        check: PrintCheck {
            template,
            same_as,
            picture: Some(grey),
        },
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
        let kept = match request {
            SensorRequest::Check(answer) => {
                let _ = answer.send(sensor_check(&mut open, &mut sensor));
                continue;
            }
            SensorRequest::Capture(kept) => kept,
        };
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
            Ok(image) => process_print(&image, &kept)
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

/// The printer open, or opened now; `None` (with the state to report) when it cannot be.
fn open_printer<'a>(
    open: &mut PrinterOpener,
    printer: &'a mut Option<Box<dyn ReceiptPrinter + Send>>,
) -> Result<&'a mut Box<dyn ReceiptPrinter + Send>, PrinterError> {
    if printer.is_none() {
        *printer = Some(open()?);
    }
    printer.as_mut().ok_or(PrinterError::NotAnswering)
}

/// How the printer is now, for the device test and the idle poll. A failed printer is closed,
/// so the next request opens it afresh (it may have been unplugged and plugged back in).
fn printer_status(
    open: &mut PrinterOpener,
    printer: &mut Option<Box<dyn ReceiptPrinter + Send>>,
) -> Result<PrinterStatus, PrinterError> {
    let result = open_printer(open, printer).and_then(|device| device.status());
    if matches!(
        result,
        Err(PrinterError::Unplugged { .. } | PrinterError::Link(_) | PrinterError::NotAnswering)
    ) {
        *printer = None;
    }
    result
}

fn printer_loop(
    mut open: PrinterOpener,
    requests: &Receiver<PrinterRequest>,
    out: &SyncSender<DeviceEvent>,
) {
    let mut printer: Option<Box<dyn ReceiptPrinter + Send>> = None;
    // What the screens were last told, so an idle poll speaks only of a change.
    let mut told: Option<PrinterState> = None;
    loop {
        let request = match requests.recv_timeout(PRINTER_POLL) {
            Ok(request) => request,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let now = match printer_status(&mut open, &mut printer) {
                    Ok(status) => PrinterState::of_status(&status),
                    Err(error) => PrinterState::of_error(&error),
                };
                // A printed slip leaves the printer ready: nothing new to say.
                let same = told == Some(now)
                    || (now == PrinterState::Ready && told == Some(PrinterState::Printed));
                if !same {
                    // At start, only a printer that cannot print is worth a word.
                    if told.is_some() || !now.ok() {
                        let _ = out.send(DeviceEvent::Printer(now));
                    }
                    told = Some(now);
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match request {
            PrinterRequest::Check(answer) => {
                let found = printer_status(&mut open, &mut printer)
                    .map_err(|e| e.to_string())
                    .and_then(|status| {
                        if status.ready() {
                            Ok(format!("ESC/POS printer {status}"))
                        } else {
                            Err(format!("the printer is {status}"))
                        }
                    });
                let _ = answer.send(found);
            }
            PrinterRequest::Print(job) => {
                let _ = out.send(DeviceEvent::Printer(PrinterState::Printing));
                let started = std::time::Instant::now();
                let result = open_printer(&mut open, &mut printer).and_then(|p| p.print(&job));
                let now = match &result {
                    Ok(_) => {
                        log::info!(
                            bytes = job.len(),
                            ms = started.elapsed().as_millis();
                            "slip printed: {} bytes in {} ms",
                            job.len(),
                            started.elapsed().as_millis()
                        );
                        PrinterState::Printed
                    }
                    Err(error) => {
                        log::warn!("slip not printed: {error}");
                        if !matches!(error, PrinterError::NotReady(_)) {
                            printer = None;
                        }
                        PrinterState::of_error(error)
                    }
                };
                told = Some(now);
                let _ = out.send(DeviceEvent::Printer(now));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::specimen::{Held, held_up};

    fn frame(rgb: Vec<u8>) -> Frame {
        Frame {
            width: 640,
            height: 480,
            rgb,
            timestamp: Duration::ZERO,
        }
    }

    #[test]
    fn a_held_up_card_is_kept_within_budget_only_when_an_image_is_wanted() {
        let card = frame(held_up(640, 480, &Held::default()));
        assert_eq!(document_frame(&card, false), (None, None));
        let (advice, image) = document_frame(&card, true);
        assert_eq!(advice, None);
        let image = image.unwrap_or_else(|| panic!("no image"));
        assert_eq!(image.format, ImageFormat::Jpeg);
        assert!(image.data.len() <= document::BUDGET_BYTES);
        // What the record checks of a document photo, it passes.
        let checked = crate::biometrics::check(
            image.data.clone(),
            crate::biometrics::ImageRole::DocumentPhoto,
        );
        assert!(checked.is_ok(), "{checked:?}");
    }

    #[test]
    fn a_face_a_glared_card_or_a_broken_frame_keeps_nothing_and_says_why() {
        let face = Rgb::decode(super::super::twins::DEMO_FACE).unwrap_or_else(|e| panic!("{e}"));
        let (advice, image) = document_frame(&frame(face.pixels().to_vec()), true);
        assert!(advice.is_some_and(|code| code.starts_with("document-")));
        assert_eq!(image, None);
        let glared = frame(held_up(
            640,
            480,
            &Held {
                glare: true,
                ..Held::default()
            },
        ));
        assert_eq!(
            document_frame(&glared, true),
            (Some("document-glare".into()), None)
        );
        let broken = Frame {
            width: 640,
            height: 480,
            rgb: vec![0; 10],
            timestamp: Duration::ZERO,
        };
        assert_eq!(
            document_frame(&broken, true),
            (Some("document-not-found".into()), None)
        );
    }
}
