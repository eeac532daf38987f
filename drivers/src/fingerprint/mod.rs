//! Optical fingerprint modules of the R30x / AS608 / ZFM family, over a USB-UART bridge,
//! with no vendor SDK, and their simulated twin.

pub mod discover;
mod driver;
pub mod packet;
pub mod protocol;
mod pty;
mod twin;

use std::fmt;
use std::time::Duration;

use zeroize::Zeroize;

pub use driver::{R30x, SensorError, SerialLink, open_serial};
pub use pty::Pty;
pub use twin::{Faults, Twin, TwinConfig};

/// A fingerprint image: 8-bit grey, row by row. Wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` grey levels.
    pub pixels: Vec<u8>,
}

impl fmt::Debug for FingerImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FingerImage({}x{})", self.width, self.height)
    }
}

impl Drop for FingerImage {
    fn drop(&mut self) {
        self.pixels.zeroize();
    }
}

/// What a sensor says about itself, for the self-test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorDescription {
    /// The protocol family.
    pub family: &'static str,
    /// Module address.
    pub address: u32,
    /// Current baud rate.
    pub baud: u32,
    /// Data packet size.
    pub packet_size: usize,
}

/// A fingerprint sensor, real or simulated: the app sees only this.
pub trait FingerprintSensor {
    /// What it is.
    fn describe(&self) -> SensorDescription;
    /// Waits up to `wait` for a finger and returns its image.
    fn capture(&mut self, wait: Duration) -> Result<FingerImage, SensorError>;
}
