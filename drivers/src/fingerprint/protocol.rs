//! Instructions, confirmation codes, system parameters and the image format of the R30x family.
//! Pure functions over bytes; the driver and the twin both use them.

use std::fmt;

/// Instruction codes (first payload byte of a command).
pub mod instruction {
    /// Capture an image into the image buffer.
    pub const GEN_IMG: u8 = 0x01;
    /// Upload the image buffer to the host.
    pub const UP_IMAGE: u8 = 0x0A;
    /// Set one system parameter (4 = baud, 5 = security, 6 = packet size).
    pub const SET_SYS_PARA: u8 = 0x0E;
    /// Read the 16 bytes of system parameters.
    pub const READ_SYS_PARA: u8 = 0x0F;
    /// Check the module password.
    pub const VFY_PWD: u8 = 0x13;
    /// R503 ring LED control.
    pub const AURA_LED_CONFIG: u8 = 0x35;
}

/// SetSysPara parameter numbers.
pub mod parameter {
    /// Baud rate, as N where baud = 9600 x N.
    pub const BAUD: u8 = 4;
    /// Data packet size code: 0 = 32, 1 = 64, 2 = 128, 3 = 256 bytes.
    pub const PACKET_SIZE: u8 = 6;
}

/// What the module's confirmation code (first byte of an ack) says went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModuleError {
    /// 0x01: the module did not receive the command whole.
    PacketReceive,
    /// 0x02: no finger on the glass.
    NoFinger,
    /// 0x03: the capture failed.
    CaptureFailed,
    /// 0x06: the image is too messy to use.
    ImageTooMessy,
    /// 0x07: too few features in the image.
    TooFewFeatures,
    /// 0x0B: bad position (outside the library).
    BadPosition,
    /// 0x0E: could not send the following data packets.
    UploadFailed,
    /// 0x13: wrong password.
    WrongPassword,
    /// 0x15: no valid image in the buffer.
    NoValidImage,
    /// 0x18: flash write error.
    FlashError,
    /// 0x1A: invalid register number.
    InvalidRegister,
    /// 0x20: wrong address (some firmwares).
    WrongAddress,
    /// Any other code.
    Other(u8),
}

impl ModuleError {
    /// Maps a non-zero confirmation code.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x01 => Self::PacketReceive,
            0x02 => Self::NoFinger,
            0x03 => Self::CaptureFailed,
            0x06 => Self::ImageTooMessy,
            0x07 => Self::TooFewFeatures,
            0x0B => Self::BadPosition,
            0x0E => Self::UploadFailed,
            0x13 => Self::WrongPassword,
            0x15 => Self::NoValidImage,
            0x18 => Self::FlashError,
            0x1A => Self::InvalidRegister,
            0x20 => Self::WrongAddress,
            other => Self::Other(other),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::PacketReceive => 0x01,
            Self::NoFinger => 0x02,
            Self::CaptureFailed => 0x03,
            Self::ImageTooMessy => 0x06,
            Self::TooFewFeatures => 0x07,
            Self::BadPosition => 0x0B,
            Self::UploadFailed => 0x0E,
            Self::WrongPassword => 0x13,
            Self::NoValidImage => 0x15,
            Self::FlashError => 0x18,
            Self::InvalidRegister => 0x1A,
            Self::WrongAddress => 0x20,
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PacketReceive => f.write_str("the sensor did not receive the command whole"),
            Self::NoFinger => f.write_str("no finger on the sensor"),
            Self::CaptureFailed => f.write_str("the sensor could not capture the finger"),
            Self::ImageTooMessy => f.write_str("the image is too messy"),
            Self::TooFewFeatures => f.write_str("too few features in the image"),
            Self::BadPosition => f.write_str("bad position"),
            Self::UploadFailed => f.write_str("the sensor could not send the image"),
            Self::WrongPassword => f.write_str("the sensor refused the password"),
            Self::NoValidImage => f.write_str("no valid image in the sensor's buffer"),
            Self::FlashError => f.write_str("the sensor's flash memory failed"),
            Self::InvalidRegister => f.write_str("invalid register number"),
            Self::WrongAddress => f.write_str("wrong module address"),
            Self::Other(code) => write!(f, "sensor error code {code:#04x}"),
        }
    }
}

/// The module's system parameters (ReadSysPara).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemParameters {
    /// Status register.
    pub status: u16,
    /// System identifier code.
    pub system_id: u16,
    /// Template library size.
    pub capacity: u16,
    /// Security level 1 to 5.
    pub security_level: u16,
    /// The module's address.
    pub address: u32,
    /// Data packet size in bytes (32, 64, 128 or 256).
    pub packet_size: usize,
    /// Baud rate.
    pub baud: u32,
}

impl SystemParameters {
    /// Parses the 16 bytes after the confirmation code; `None` if short or out of range.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let word = |at: usize| -> Option<u16> {
            Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
        };
        let size_code = word(12)?;
        let baud_n = word(14)?;
        if size_code > 3 || !(1..=12).contains(&baud_n) {
            return None;
        }
        Some(Self {
            status: word(0)?,
            system_id: word(2)?,
            capacity: word(4)?,
            security_level: word(6)?,
            address: u32::from(word(8)?) << 16 | u32::from(word(10)?),
            packet_size: 32 << size_code,
            baud: 9600 * u32::from(baud_n),
        })
    }

    /// The 16 bytes on the wire.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..2].copy_from_slice(&self.status.to_be_bytes());
        out[2..4].copy_from_slice(&self.system_id.to_be_bytes());
        out[4..6].copy_from_slice(&self.capacity.to_be_bytes());
        out[6..8].copy_from_slice(&self.security_level.to_be_bytes());
        out[8..12].copy_from_slice(&self.address.to_be_bytes());
        let size_code = (self.packet_size / 32).trailing_zeros() as u16;
        out[12..14].copy_from_slice(&size_code.to_be_bytes());
        out[14..16].copy_from_slice(&((self.baud / 9600) as u16).to_be_bytes());
        out
    }
}

/// Unpacks the module's 4-bit image (two pixels a byte, high nibble left) to 8-bit grey,
/// scaling 0..15 to 0..255 (x17) as the vendor tools do.
pub fn unpack_image(packed: &[u8]) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(packed.len() * 2);
    for byte in packed {
        pixels.push((byte >> 4) * 17);
        pixels.push((byte & 0x0F) * 17);
    }
    pixels
}

/// Packs 8-bit grey to the module's 4-bit format (the twin's side of `unpack_image`).
pub fn pack_image(pixels: &[u8]) -> Vec<u8> {
    pixels
        .chunks(2)
        .map(|pair| {
            let high = pair[0] >> 4;
            let low = pair.get(1).map_or(0, |p| p >> 4);
            high << 4 | low
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_parameters_round_trip() {
        let parameters = SystemParameters {
            status: 0,
            system_id: 9,
            capacity: 300,
            security_level: 3,
            address: 0xFFFF_FFFF,
            packet_size: 128,
            baud: 57_600,
        };
        assert_eq!(
            SystemParameters::parse(&parameters.encode()),
            Some(parameters)
        );
        assert_eq!(SystemParameters::parse(&[0; 10]), None);
        let mut bad = parameters.encode();
        bad[15] = 13;
        assert_eq!(
            SystemParameters::parse(&bad),
            None,
            "baud N 13 does not exist"
        );
    }

    #[test]
    fn images_pack_and_unpack_to_sixteen_grey_levels() {
        let pixels: Vec<u8> = (0..=255).collect();
        let round = unpack_image(&pack_image(&pixels));
        assert_eq!(round.len(), 256);
        for (before, after) in pixels.iter().zip(&round) {
            assert_eq!(*after, (before >> 4) * 17);
        }
        assert_eq!(unpack_image(&[0xF0]), vec![255, 0]);
    }

    #[test]
    fn every_confirmation_code_maps_back_to_itself() {
        for code in 1..=255u8 {
            assert_eq!(ModuleError::from_code(code).code(), code);
        }
    }
}
