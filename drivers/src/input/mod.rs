//! Input devices through evdev: keyboard-wedge scanners (grabbed), touchscreens and hardware
//! keys listed for the self-test, and a replay twin of recorded event streams.

mod classify;
pub mod event;
pub mod keymap;
mod source;

pub use classify::{InputKind, classify};
pub use source::{
    EvdevSource, EventSource, InputDeviceInfo, InputError, ReplaySource, Scanner, list_devices,
};
