//! Where input events come from: a real /dev/input device (grabbed, so a scanner's keys never
//! reach the UI), or a recorded stream replayed byte for byte. A scanner reads lines from either.

use std::fmt;
use std::path::{Path, PathBuf};

use super::classify::{InputKind, classify};
use super::event::{EV_SYN, RawEvent, StreamError, parse_stream};
use super::keymap::LineAssembler;

/// Why input could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputError {
    /// The device could not be opened (gone, or no permission: check the udev rule).
    Open {
        /// The device node.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// Another program holds the device grabbed.
    Grab {
        /// The device node.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// Reading failed: the device was unplugged.
    Disconnected(String),
    /// A recorded stream is damaged.
    Stream(StreamError),
    /// A recorded stream has no more events.
    Ended,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, detail } => write!(f, "cannot open {}: {detail}", path.display()),
            Self::Grab { path, detail } => {
                write!(
                    f,
                    "cannot take {} for the kiosk alone: {detail}",
                    path.display()
                )
            }
            Self::Disconnected(detail) => write!(f, "the scanner was disconnected: {detail}"),
            Self::Stream(error) => error.fmt(f),
            Self::Ended => f.write_str("the recorded input has ended"),
        }
    }
}

impl std::error::Error for InputError {}

/// A source of input events, in batches that end at a sync event.
pub trait EventSource {
    /// The next batch of events; blocks until there is one.
    fn next_events(&mut self) -> Result<Vec<RawEvent>, InputError>;
}

/// A real evdev device, grabbed for exclusive use.
pub struct EvdevSource {
    device: evdev::Device,
}

impl fmt::Debug for EvdevSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvdevSource")
            .field("name", &self.device.name())
            .finish()
    }
}

impl EvdevSource {
    /// Opens and grabs `path`.
    pub fn open_grabbed(path: &Path) -> Result<Self, InputError> {
        let mut device = evdev::Device::open(path).map_err(|e| InputError::Open {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        device.grab().map_err(|e| InputError::Grab {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Ok(Self { device })
    }
}

impl EventSource for EvdevSource {
    fn next_events(&mut self) -> Result<Vec<RawEvent>, InputError> {
        let events = self
            .device
            .fetch_events()
            .map_err(|e| InputError::Disconnected(e.to_string()))?;
        Ok(events
            .map(|event| {
                let since = event
                    .timestamp()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                RawEvent {
                    seconds: since.as_secs() as i64,
                    microseconds: i64::from(since.subsec_micros()),
                    kind: event.event_type().0,
                    code: event.code(),
                    value: event.value(),
                }
            })
            .collect())
    }
}

/// A recorded `input_event` stream, replayed batch by batch.
#[derive(Debug)]
pub struct ReplaySource {
    events: Vec<RawEvent>,
    position: usize,
}

impl ReplaySource {
    /// Parses a recorded stream (the bytes of /dev/input/eventN as read).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InputError> {
        Ok(Self {
            events: parse_stream(bytes).map_err(InputError::Stream)?,
            position: 0,
        })
    }

    /// Replays these events.
    pub fn from_events(events: Vec<RawEvent>) -> Self {
        Self {
            events,
            position: 0,
        }
    }
}

impl EventSource for ReplaySource {
    fn next_events(&mut self) -> Result<Vec<RawEvent>, InputError> {
        if self.position >= self.events.len() {
            return Err(InputError::Ended);
        }
        let rest = &self.events[self.position..];
        let length = rest
            .iter()
            .position(|e| e.kind == EV_SYN)
            .map_or(rest.len(), |at| at + 1);
        self.position += length;
        Ok(rest[..length].to_vec())
    }
}

/// A keyboard-wedge scanner: lines of text from a source's key events.
#[derive(Debug)]
pub struct Scanner<S: EventSource> {
    source: S,
    assembler: LineAssembler,
}

impl<S: EventSource> Scanner<S> {
    /// Reads lines from `source`.
    pub fn new(source: S) -> Self {
        Self {
            source,
            assembler: LineAssembler::new(),
        }
    }

    /// The next scanned line (blocks until Enter).
    pub fn next_line(&mut self) -> Result<String, InputError> {
        loop {
            for event in self.source.next_events()? {
                if let Some(line) = self.assembler.feed(&event) {
                    return Ok(line);
                }
            }
        }
    }
}

/// An input device found on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDeviceInfo {
    /// Its node, e.g. `/dev/input/event3`.
    pub path: PathBuf,
    /// Its name as the kernel reports it.
    pub name: String,
    /// What it is for.
    pub kind: InputKind,
}

/// Every input device the kiosk can open, with what it is for.
pub fn list_devices() -> Vec<InputDeviceInfo> {
    let mut found: Vec<InputDeviceInfo> = evdev::enumerate()
        .map(|(path, device)| {
            let keys: Vec<u16> = device
                .supported_keys()
                .map(|keys| keys.iter().map(|k| k.code()).collect())
                .unwrap_or_default();
            let axes: Vec<u16> = device
                .supported_absolute_axes()
                .map(|axes| axes.iter().map(|a| a.0).collect())
                .unwrap_or_default();
            InputDeviceInfo {
                path,
                name: device.name().unwrap_or("unnamed").to_string(),
                kind: classify(&keys, &axes),
            }
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}
