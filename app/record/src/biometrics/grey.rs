//! An 8-bit greyscale picture in memory: what the fingerprint codecs and checks work on.
//!
//! Its pixels are a person's biometric, so they are wiped when it is dropped and never printed.

use std::fmt;
use std::io::Cursor;

use zeroize::Zeroize;

/// Largest picture the codecs accept, in pixels (a 500 ppi four-finger slap is ~1600 x 1500).
pub const MAX_PIXELS: usize = 20_000_000;

/// An 8-bit grey picture, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct Grey {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

/// Why bytes are not a usable grey picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GreyError {
    /// Width times height is not the number of pixels given, or is zero or too large.
    BadSize {
        /// Width claimed.
        width: usize,
        /// Height claimed.
        height: usize,
    },
    /// The PNG does not decode, or is not 8-bit greyscale.
    BadPng(String),
}

impl fmt::Display for GreyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSize { width, height } => {
                write!(f, "{width}x{height} pixels is not a usable picture size")
            }
            Self::BadPng(detail) => write!(f, "not a usable greyscale PNG: {detail}"),
        }
    }
}

impl std::error::Error for GreyError {}

impl fmt::Debug for Grey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Grey({}x{})", self.width, self.height)
    }
}

impl Drop for Grey {
    fn drop(&mut self) {
        self.pixels.zeroize();
    }
}

impl Grey {
    /// Wraps `pixels` (row by row) as a `width` x `height` picture.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, GreyError> {
        let expected = width.checked_mul(height);
        if width == 0 || height == 0 || expected != Some(pixels.len()) || pixels.len() > MAX_PIXELS
        {
            let mut pixels = pixels;
            pixels.zeroize();
            return Err(GreyError::BadSize { width, height });
        }
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Decodes an 8-bit greyscale PNG (colour PNGs are refused rather than guessed at).
    pub fn from_png(bytes: &[u8]) -> Result<Self, GreyError> {
        let bad = |error: png::DecodingError| GreyError::BadPng(error.to_string());
        let limits = png::Limits { bytes: MAX_PIXELS };
        let decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
        let mut reader = decoder.read_info().map_err(bad)?;
        let info = reader.info();
        let (width, height) = (info.width as usize, info.height as usize);
        if info.bit_depth != png::BitDepth::Eight {
            return Err(GreyError::BadPng("not 8 bits per sample".into()));
        }
        let colour = info.color_type;
        let size = reader
            .output_buffer_size()
            .ok_or(GreyError::BadSize { width, height })?;
        let mut buffer = vec![0u8; size];
        let frame = reader.next_frame(&mut buffer);
        let pixels = match (frame, colour) {
            (Ok(_), png::ColorType::Grayscale) => {
                buffer.truncate(width * height);
                buffer
            }
            // Some tools save grey prints as RGB(A) with equal channels: keep the luminance.
            (Ok(_), png::ColorType::Rgb | png::ColorType::Rgba) => {
                let step = if colour == png::ColorType::Rgb { 3 } else { 4 };
                let grey = buffer
                    .chunks_exact(step)
                    .map(|p| {
                        let sum =
                            299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
                        (sum / 1000) as u8
                    })
                    .collect();
                buffer.zeroize();
                grey
            }
            (Ok(_), other) => {
                buffer.zeroize();
                return Err(GreyError::BadPng(format!("{other:?} pixels")));
            }
            (Err(error), _) => {
                buffer.zeroize();
                return Err(bad(error));
            }
        };
        Self::new(width, height, pixels)
    }

    /// Encodes as an 8-bit greyscale PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()?;
        Ok(out)
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixels, row by row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel at (`x`, `y`); callers keep inside the picture.
    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }
}
