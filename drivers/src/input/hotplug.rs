//! Every input device that can type, taken for the kiosk alone whenever it appears.
//!
//! People use the touchscreen and its on-screen keyboard; the only other thing allowed to type
//! is a known barcode or document scanner. A keyboard (or any HID device with typing keys)
//! plugged in at any time must not type into the screens, nor reach the kernel's console
//! (an exclusive grab, `EVIOCGRAB`, keeps its keys from every other reader: libinput under the
//! UI, and the console's own keyboard handler). So a watcher rescans the event nodes every
//! [`RESCAN`]: a known scanner is grabbed and its key events are handed on (a [`HotplugSource`]
//! is an [`EventSource`], read by a [`super::Scanner`]); any other device with typing keys is
//! grabbed and its events thrown away; touchscreens, power and volume buttons are left to the
//! system.
//!
//! Rescanning (a directory listing a second) rather than inotify keeps the crate free of
//! another dependency and costs nothing on a directory of a dozen entries. The price: a
//! device plugged in can type for up to a second before it is grabbed (the UI's libinput seat
//! sees it in that second).
//!
//! The nodes come through [`InputNodes`]: `/dev/input` through evdev ([`EvdevNodes`]), or a
//! twin directory of recorded event streams with their descriptions ([`TwinNodes`]), where a
//! test plugs a device in mid-run by writing a file.

use std::collections::HashMap;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::classify::{InputKind, classify};
use super::event::RawEvent;
use super::source::{EvdevSource, EventSource, InputError, ReplaySource};

/// How often the event nodes are listed again.
pub const RESCAN: Duration = Duration::from_secs(1);

/// How many rescans a node that could not be opened is tried again: udev gives a new node its
/// group a moment after the kernel makes it, so the first try may be refused.
const OPEN_TRIES: u32 = 5;

/// Batches waiting for the reader: a scanner types a few dozen keys a line.
const QUEUE: usize = 256;

/// USB vendors of barcode and document scanners the kiosk takes input from: Honeywell
/// (Metrologic), Zebra (Symbol), Datalogic, Newland.
const SCANNER_VENDORS: [u16; 4] = [0x0c2e, 0x05e0, 0x05f9, 0x1eab];

/// What an input device says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo {
    /// Its name as the kernel reports it.
    pub name: String,
    /// USB (or other bus) vendor id.
    pub vendor: u16,
    /// Product id.
    pub product: u16,
    /// Key codes it can send.
    pub keys: Vec<u16>,
    /// Absolute axes it reports.
    pub absolute_axes: Vec<u16>,
}

/// What the kiosk does with a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A known scanner: grabbed, its lines read.
    Scanner,
    /// Can type but is no scanner the kiosk knows (a keyboard): grabbed, its keys thrown away.
    Ignored,
    /// Types nothing (touchscreen, power button, mouse): left to the system.
    Left,
}

/// Decides what to do with a device from what it says about itself.
pub fn role_of(info: &NodeInfo) -> Role {
    let kind = classify(&info.keys, &info.absolute_axes);
    // Esc through the keypad's dot: letters, digits, Enter, space, punctuation, the keypad.
    // Power, sleep and volume keys (113 and up) are not typing. Whether a device types is
    // asked first: one that also reports touch axes (a keyboard with a touchpad, or a device
    // made to look like a touchscreen) must not be let through to type.
    let types = info.keys.iter().any(|code| (1..=83).contains(code));
    if !types {
        return Role::Left;
    }
    let name = info.name.to_lowercase();
    let known = SCANNER_VENDORS.contains(&info.vendor)
        || name.contains("barcode")
        || name.contains("scanner");
    if kind == InputKind::Scanner && known {
        Role::Scanner
    } else {
        Role::Ignored
    }
}

/// Where event nodes come from: the kernel's, or a twin's.
pub trait InputNodes: Send + 'static {
    /// The event nodes now present, each with an identity that changes when a node of the same
    /// name is a new device (its inode: unplugging and plugging again makes a new node).
    fn nodes(&self) -> Vec<(PathBuf, u64)>;
    /// What the device at `path` says about itself.
    fn describe(&self, path: &Path) -> Result<NodeInfo, InputError>;
    /// Opens `path` for the kiosk alone.
    fn open_grabbed(&self, path: &Path) -> Result<Box<dyn EventSource + Send>, InputError>;
}

/// `event*` entries of `dir` with their inodes, in name order.
fn event_nodes(dir: &Path, skip_suffix: Option<&str>) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, u64)> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("event") && skip_suffix.is_none_or(|suffix| !name.ends_with(suffix))
        })
        .filter_map(|entry| Some((entry.path(), entry.metadata().ok()?.ino())))
        .collect();
    found.sort();
    found
}

/// The kernel's event nodes (`/dev/input`).
#[derive(Debug, Clone)]
pub struct EvdevNodes {
    dir: PathBuf,
}

impl EvdevNodes {
    /// The nodes in `dir` (`/dev/input` on a device).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }
}

impl InputNodes for EvdevNodes {
    fn nodes(&self) -> Vec<(PathBuf, u64)> {
        event_nodes(&self.dir, None)
    }

    fn describe(&self, path: &Path) -> Result<NodeInfo, InputError> {
        let device = evdev::Device::open(path).map_err(|e| InputError::Open {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let id = device.input_id();
        Ok(NodeInfo {
            name: device.name().unwrap_or("unnamed").to_string(),
            vendor: id.vendor(),
            product: id.product(),
            keys: device
                .supported_keys()
                .map(|keys| keys.iter().map(|k| k.code()).collect())
                .unwrap_or_default(),
            absolute_axes: device
                .supported_absolute_axes()
                .map(|axes| axes.iter().map(|a| a.0).collect())
                .unwrap_or_default(),
        })
    }

    fn open_grabbed(&self, path: &Path) -> Result<Box<dyn EventSource + Send>, InputError> {
        Ok(Box::new(EvdevSource::open_grabbed(path)?))
    }
}

/// A twin of `/dev/input`: each device is `eventN`, the bytes its node would deliver (a
/// recorded `input_event` stream), beside `eventN.desc`, what it says about itself
/// (`name=`, `vendor=` and `product=` in hex, `keys=` and `axes=` as codes and ranges,
/// `1-88,96`). Plug a device in with [`TwinNodes::plug`].
#[derive(Debug, Clone)]
pub struct TwinNodes {
    dir: PathBuf,
}

const DESCRIPTION: &str = ".desc";

impl TwinNodes {
    /// The twin devices in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// Plugs a device in: its description first, then its node (renamed into place), so the
    /// watcher never finds a node it cannot describe.
    pub fn plug(
        dir: &Path,
        node: &str,
        info: &NodeInfo,
        recording: &[u8],
    ) -> std::io::Result<PathBuf> {
        let codes = |codes: &[u16]| {
            codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let description = format!(
            "name={}\nvendor={:04x}\nproduct={:04x}\nkeys={}\naxes={}\n",
            info.name,
            info.vendor,
            info.product,
            codes(&info.keys),
            codes(&info.absolute_axes)
        );
        std::fs::write(dir.join(format!("{node}{DESCRIPTION}")), description)?;
        let staging = dir.join(format!(".{node}.tmp"));
        std::fs::write(&staging, recording)?;
        let path = dir.join(node);
        std::fs::rename(&staging, &path)?;
        Ok(path)
    }
}

/// `1-3,7` as codes.
fn parse_codes(text: &str) -> Option<Vec<u16>> {
    let mut codes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((low, high)) => {
                let (low, high): (u16, u16) = (low.parse().ok()?, high.parse().ok()?);
                if high < low || high - low > 1024 {
                    return None;
                }
                codes.extend(low..=high);
            }
            None => codes.push(part.parse().ok()?),
        }
    }
    Some(codes)
}

fn parse_description(text: &str) -> Option<NodeInfo> {
    let mut info = NodeInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "name" => info.name = value.trim().to_string(),
            "vendor" => info.vendor = u16::from_str_radix(value.trim(), 16).ok()?,
            "product" => info.product = u16::from_str_radix(value.trim(), 16).ok()?,
            "keys" => info.keys = parse_codes(value)?,
            "axes" => info.absolute_axes = parse_codes(value)?,
            _ => {}
        }
    }
    Some(info)
}

impl InputNodes for TwinNodes {
    fn nodes(&self) -> Vec<(PathBuf, u64)> {
        event_nodes(&self.dir, Some(DESCRIPTION))
    }

    fn describe(&self, path: &Path) -> Result<NodeInfo, InputError> {
        let mut description = path.as_os_str().to_owned();
        description.push(DESCRIPTION);
        let open_error = |detail: String| InputError::Open {
            path: path.to_path_buf(),
            detail,
        };
        let text = std::fs::read_to_string(&description).map_err(|e| open_error(e.to_string()))?;
        parse_description(&text).ok_or_else(|| open_error("a damaged description".into()))
    }

    fn open_grabbed(&self, path: &Path) -> Result<Box<dyn EventSource + Send>, InputError> {
        let bytes = std::fs::read(path).map_err(|e| InputError::Open {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Ok(Box::new(ReplaySource::from_bytes(&bytes)?))
    }
}

/// A device the watcher has dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// Its node.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// What was done with it.
    pub role: Role,
    /// Why it could not be taken, if it could not (it may type into the screens: say so).
    pub error: Option<String>,
}

impl fmt::Display for Handled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match (self.role, &self.error) {
            (_, Some(error)) => {
                return write!(f, "{} ({}): {error}", self.path.display(), self.name);
            }
            (Role::Scanner, None) => "grabbed, read as a scanner",
            (Role::Ignored, None) => "grabbed, its keys ignored",
            (Role::Left, None) => "left to the system",
        };
        write!(f, "{} ({}): {what}", self.path.display(), self.name)
    }
}

/// The key events of every known scanner, from whenever each is plugged in; every other
/// device that can type is held grabbed and silent. Reading blocks until a scanner sends a
/// batch (one key, up to its sync event): batches of two scanners used at once interleave,
/// which garbles both lines, and the form refuses them.
pub struct HotplugSource {
    batches: Receiver<Vec<RawEvent>>,
    handled: Arc<Mutex<Vec<Handled>>>,
}

impl fmt::Debug for HotplugSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotplugSource").finish_non_exhaustive()
    }
}

impl HotplugSource {
    /// Starts watching `nodes`, listing them again every `rescan`.
    pub fn start(nodes: impl InputNodes, rescan: Duration) -> Self {
        let (sender, batches) = mpsc::sync_channel(QUEUE);
        let handled = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&handled);
        thread::Builder::new()
            .name("input-watch".into())
            .spawn(move || watch(&nodes, rescan, &sender, &log))
            .ok();
        Self { batches, handled }
    }

    /// The list of devices dealt with, shared: it keeps growing after the source itself has
    /// been handed to a reader (for a log).
    pub fn handled_list(&self) -> Arc<Mutex<Vec<Handled>>> {
        Arc::clone(&self.handled)
    }

    /// Every device dealt with so far, oldest first.
    pub fn handled(&self) -> Vec<Handled> {
        self.handled
            .lock()
            .map(|list| list.clone())
            .unwrap_or_default()
    }
}

impl EventSource for HotplugSource {
    fn next_events(&mut self) -> Result<Vec<RawEvent>, InputError> {
        self.batches.recv().map_err(|_| InputError::Ended)
    }
}

fn watch(
    nodes: &dyn InputNodes,
    rescan: Duration,
    sender: &SyncSender<Vec<RawEvent>>,
    log: &Mutex<Vec<Handled>>,
) {
    // Node -> (identity, tries left): a node is dealt with once per identity; one that could
    // not be opened is tried again a few times.
    let mut seen: HashMap<PathBuf, (u64, u32)> = HashMap::new();
    loop {
        let present = nodes.nodes();
        seen.retain(|path, _| present.iter().any(|(p, _)| p == path));
        for (path, identity) in present {
            // 0: dealt with; 1 and up: that many failed tries.
            let tries = match seen.get(&path) {
                Some(&(known, tries)) if known == identity => {
                    if tries == 0 || tries >= OPEN_TRIES {
                        continue;
                    }
                    tries
                }
                _ => 0,
            };
            let outcome = take(nodes, &path, sender);
            let failed = outcome.error.is_some();
            // Done (0) unless it failed; then count the try.
            seen.insert(path, (identity, if failed { tries + 1 } else { 0 }));
            if (!failed || tries + 1 == OPEN_TRIES)
                && let Ok(mut list) = log.lock()
            {
                list.push(outcome);
            }
        }
        thread::sleep(rescan);
    }
}

/// Describes the device at `path` and grabs it if it can type: a scanner's batches go to
/// `sender` from a thread of its own, anything else's are thrown away there.
fn take(nodes: &dyn InputNodes, path: &Path, sender: &SyncSender<Vec<RawEvent>>) -> Handled {
    let info = match nodes.describe(path) {
        Ok(info) => info,
        Err(error) => {
            return Handled {
                path: path.to_path_buf(),
                name: String::new(),
                role: Role::Ignored,
                error: Some(error.to_string()),
            };
        }
    };
    let role = role_of(&info);
    let mut handled = Handled {
        path: path.to_path_buf(),
        name: info.name,
        role,
        error: None,
    };
    if role == Role::Left {
        return handled;
    }
    let mut source = match nodes.open_grabbed(path) {
        Ok(source) => source,
        Err(error) => {
            handled.error = Some(error.to_string());
            return handled;
        }
    };
    let sender = sender.clone();
    let spawned = thread::Builder::new()
        .name("input-device".into())
        .spawn(move || {
            // Until the device goes (unplugged, the end of a recording) or nobody reads.
            while let Ok(batch) = source.next_events() {
                if role == Role::Scanner && sender.send(batch).is_err() {
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        handled.error = Some(format!("no thread to read it: {error}"));
    }
    handled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, vendor: u16, keys: Vec<u16>, axes: Vec<u16>) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            vendor,
            product: 1,
            keys,
            absolute_axes: axes,
        }
    }

    #[test]
    fn known_scanners_are_read_other_typing_devices_ignored_the_rest_left() {
        let full: Vec<u16> = (1..=88).collect();
        assert_eq!(
            role_of(&info("Honeywell 1900", 0x0c2e, full.clone(), vec![])),
            Role::Scanner
        );
        assert_eq!(
            role_of(&info("USB Barcode Reader", 0x1234, full.clone(), vec![])),
            Role::Scanner
        );
        assert_eq!(
            role_of(&info("Logitech USB Keyboard", 0x046d, full, vec![])),
            Role::Ignored
        );
        let keypad: Vec<u16> = (71..=83).chain([96]).collect();
        assert_eq!(role_of(&info("Keypad", 0x1, keypad, vec![])), Role::Ignored);
        assert_eq!(
            role_of(&info("Power Button", 0, vec![116], vec![])),
            Role::Left
        );
        assert_eq!(
            role_of(&info("Touch", 0, vec![0x14a], vec![0, 1, 0x35, 0x36])),
            Role::Left
        );
        // Touch axes do not excuse a device that types: grabbed like any keyboard.
        let typing_touch: Vec<u16> = (1..=88).chain([0x14a]).collect();
        assert_eq!(
            role_of(&info("Touch", 0, typing_touch, vec![0, 1, 0x35, 0x36])),
            Role::Ignored
        );
    }

    #[test]
    fn descriptions_round_trip_and_damage_is_refused() {
        assert_eq!(parse_codes("1-3, 7"), Some(vec![1, 2, 3, 7]));
        assert_eq!(parse_codes("3-1"), None);
        assert_eq!(parse_codes("x"), None);
        let text = "name=A scanner\nvendor=0c2e\nproduct=0b61\nkeys=1-2\naxes=\n";
        let parsed = parse_description(text);
        assert_eq!(
            parsed,
            Some(NodeInfo {
                name: "A scanner".into(),
                vendor: 0x0c2e,
                product: 0x0b61,
                keys: vec![1, 2],
                absolute_axes: vec![],
            })
        );
        assert_eq!(parse_description("vendor=zz"), None);
    }
}
