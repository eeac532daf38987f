//! A colour picture in memory (camera frames, face photos): decoding, grey, sampling, JPEG.
//!
//! Its pixels are a person's face, so they are wiped when it is dropped and never printed.

use std::fmt;
use std::io::Cursor;

use zeroize::Zeroize;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// Largest width or height accepted.
pub const MAX_SIDE: usize = 4096;
/// Smallest width or height accepted (the face detector's window is 40 pixels).
pub const MIN_SIDE: usize = 64;

/// An 8-bit RGB picture, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct Rgb {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

/// Why bytes are not a usable picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoError {
    /// Neither a JPEG nor a PNG.
    NotAPicture,
    /// The file does not decode.
    Undecodable(String),
    /// Too small, too large, or a pixel count that does not match.
    BadSize {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
    },
    /// JPEG encoding failed.
    Encode(String),
}

impl fmt::Display for PhotoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAPicture => f.write_str("not a picture (neither JPEG nor PNG)"),
            Self::Undecodable(detail) => write!(f, "the picture is damaged: {detail}"),
            Self::BadSize { width, height } => write!(
                f,
                "{width}x{height} pixels is not a usable size (each side {MIN_SIDE} to {MAX_SIDE})"
            ),
            Self::Encode(detail) => write!(f, "cannot encode the JPEG: {detail}"),
        }
    }
}

impl std::error::Error for PhotoError {}

impl fmt::Debug for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rgb({}x{})", self.width, self.height)
    }
}

impl Drop for Rgb {
    fn drop(&mut self) {
        self.pixels.zeroize();
    }
}

impl Rgb {
    /// Wraps `pixels` (R, G, B per pixel, row by row).
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, PhotoError> {
        let sides =
            (MIN_SIDE..=MAX_SIDE).contains(&width) && (MIN_SIDE..=MAX_SIDE).contains(&height);
        if !sides || pixels.len() != width * height * 3 {
            let mut pixels = pixels;
            pixels.zeroize();
            return Err(PhotoError::BadSize { width, height });
        }
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// Decodes a JPEG or PNG (grey, grey and alpha, RGB or RGBA; alpha is dropped).
    pub fn decode(bytes: &[u8]) -> Result<Self, PhotoError> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Self::from_jpeg(bytes)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Self::from_png(bytes)
        } else {
            Err(PhotoError::NotAPicture)
        }
    }

    fn from_jpeg(bytes: &[u8]) -> Result<Self, PhotoError> {
        let options = DecoderOptions::default()
            .set_max_width(MAX_SIDE)
            .set_max_height(MAX_SIDE)
            .jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
        let pixels = decoder
            .decode()
            .map_err(|e| PhotoError::Undecodable(e.to_string()))?;
        let info = decoder
            .info()
            .ok_or_else(|| PhotoError::Undecodable("no image information".into()))?;
        Self::new(usize::from(info.width), usize::from(info.height), pixels)
    }

    fn from_png(bytes: &[u8]) -> Result<Self, PhotoError> {
        let bad = |e: png::DecodingError| PhotoError::Undecodable(e.to_string());
        let limits = png::Limits {
            bytes: MAX_SIDE * MAX_SIDE * 4,
        };
        let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(bad)?;
        let (width, height) = (reader.info().width as usize, reader.info().height as usize);
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(PhotoError::BadSize { width, height });
        }
        let size = reader
            .output_buffer_size()
            .ok_or(PhotoError::BadSize { width, height })?;
        let mut buffer = vec![0u8; size];
        let info = reader.next_frame(&mut buffer).map_err(bad)?;
        let step = info.color_type.samples();
        let pixels: Vec<u8> = buffer[..info.buffer_size()]
            .chunks_exact(step)
            .flat_map(|p| match step {
                1 | 2 => [p[0], p[0], p[0]],
                _ => [p[0], p[1], p[2]],
            })
            .collect();
        buffer.zeroize();
        Self::new(width, height, pixels)
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixels, R, G, B, row by row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Luma (ITU-R BT.601 weights), one byte per pixel.
    pub fn luma(&self) -> Vec<u8> {
        self.pixels
            .chunks_exact(3)
            .map(|p| {
                ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8
            })
            .collect()
    }

    /// The colour at a point (bilinear), or `None` outside the picture.
    pub fn sample(&self, x: f32, y: f32) -> Option<[f32; 3]> {
        if !(x >= 0.0 && y >= 0.0 && x <= (self.width - 1) as f32 && y <= (self.height - 1) as f32)
        {
            return None;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at =
            |xx: usize, yy: usize, c: usize| f32::from(self.pixels[(yy * self.width + xx) * 3 + c]);
        let mut out = [0.0; 3];
        for (c, value) in out.iter_mut().enumerate() {
            let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
            let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
            *value = top * (1.0 - fy) + bottom * fy;
        }
        Some(out)
    }

    /// Encodes as a baseline JPEG at `quality` (1-100).
    pub fn to_jpeg(&self, quality: u8) -> Result<Vec<u8>, PhotoError> {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
            .encode(
                &self.pixels,
                self.width as u16,
                self.height as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .map_err(|e| PhotoError::Encode(e.to_string()))?;
        Ok(out)
    }
}
