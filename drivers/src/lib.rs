//! Sajili's device drivers: camera (V4L2), fingerprint sensors (R30x serial protocol), receipt
//! printers (ESC/POS over the USB printer class) and input (evdev), each behind a trait with a simulated twin that speaks the same bytes.
//!
//! This crate knows nothing of the app.
#![forbid(unsafe_code)]

pub mod camera;
pub mod fingerprint;
pub mod input;
pub mod printer;
