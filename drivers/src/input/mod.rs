//! Input devices through evdev: keyboard-wedge scanners (grabbed whenever they are plugged in),
//! every other device that can type grabbed and silenced, touchscreens and hardware keys listed
//! for the self-test, and a replay twin of recorded event streams.

mod classify;
pub mod event;
pub mod hotplug;
pub mod keymap;
mod source;

pub use classify::{InputKind, classify};
pub use hotplug::{EvdevNodes, HotplugSource, InputNodes, NodeInfo, Role, TwinNodes};
pub use source::{
    EvdevSource, EventSource, InputDeviceInfo, InputError, ReplaySource, Scanner, list_devices,
};
