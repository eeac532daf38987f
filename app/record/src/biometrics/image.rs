//! Image files that go into a record: checked to be whole, decodable images of a sane size.
//!
//! The record keeps the file's own bytes (no re-encoding, so nothing is lost), but only after
//! decoding them completely here: a truncated or mislabelled file is refused at the door, not
//! discovered by the registry months later. Pixel buffers from the check are wiped at once,
//! and the kept bytes are wiped when the [`Image`] is dropped.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::options::DecoderOptions;

/// Largest image file accepted (8 MiB): a 640x480 photo is ~60 KB.
pub const MAX_FILE_BYTES: usize = 8 << 20;
/// Largest width or height accepted.
pub const MAX_SIDE: usize = 4096;

/// Encodings a record can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageFormat {
    /// JPEG (baseline or progressive).
    Jpeg,
    /// PNG.
    Png,
    /// WSQ (fingerprints): what the kiosk seals, 15 times smaller than PNG.
    Wsq,
}

/// What the image shows, which decides what it must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRole {
    /// The face photo: JPEG, colour or grey, at least 240 x 320 (the ICAO token image).
    FacePhoto,
    /// A fingerprint: 8-bit grey PNG or WSQ, at least 150 x 150 pixels.
    Fingerprint,
    /// The identity document, cut out of a camera frame: JPEG, at least 160 x 100.
    DocumentPhoto,
}

/// A checked image file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Its encoding.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The file's bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

impl fmt::Debug for Image {
    // Never print biometric bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Image({:?} {}x{}, {} bytes)",
            self.format,
            self.width,
            self.height,
            self.data.len()
        )
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

/// Why an image file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageError {
    /// The file is empty.
    Empty,
    /// The file is larger than [`MAX_FILE_BYTES`].
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Neither a JPEG nor a PNG.
    NotAnImage,
    /// A JPEG where a PNG is needed, or the other way round.
    WrongFormat {
        /// What the role needs.
        expected: ImageFormat,
        /// What the file is.
        found: ImageFormat,
    },
    /// The file starts like an image but does not decode (truncated or damaged).
    Undecodable {
        /// The decoder's words.
        detail: String,
    },
    /// Smaller than the role needs, or larger than [`MAX_SIDE`].
    BadSize {
        /// Width found.
        width: usize,
        /// Height found.
        height: usize,
    },
    /// A fingerprint that is not 8-bit greyscale.
    NotGreyscale,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the file is empty"),
            Self::TooLarge { bytes } => {
                write!(
                    f,
                    "the file is {bytes} bytes; at most {MAX_FILE_BYTES} are accepted"
                )
            }
            Self::NotAnImage => f.write_str("not an image (neither JPEG, PNG nor WSQ)"),
            Self::WrongFormat { expected, found } => {
                write!(f, "a {found:?} image where a {expected:?} is needed")
            }
            Self::Undecodable { detail } => write!(f, "the image is damaged: {detail}"),
            Self::BadSize { width, height } => {
                write!(f, "{width}x{height} pixels is not a usable size")
            }
            Self::NotGreyscale => f.write_str("a fingerprint must be an 8-bit greyscale image"),
        }
    }
}

impl std::error::Error for ImageError {}

fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xA0]) {
        Some(ImageFormat::Wsq)
    } else {
        None
    }
}

/// Checks `bytes` as an image for `role` and keeps them.
///
/// On error `bytes` is wiped and dropped; nothing else changes.
pub fn check(mut bytes: Vec<u8>, role: ImageRole) -> Result<Image, ImageError> {
    let result = inspect(&bytes, role);
    match result {
        Ok((format, width, height)) => Ok(Image {
            format,
            width,
            height,
            data: bytes,
        }),
        Err(error) => {
            bytes.zeroize();
            Err(error)
        }
    }
}

fn inspect(bytes: &[u8], role: ImageRole) -> Result<(ImageFormat, u32, u32), ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImageError::TooLarge { bytes: bytes.len() });
    }
    let found = sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let expected = match role {
        ImageRole::FacePhoto | ImageRole::DocumentPhoto => ImageFormat::Jpeg,
        ImageRole::Fingerprint if found == ImageFormat::Wsq => ImageFormat::Wsq,
        ImageRole::Fingerprint => ImageFormat::Png,
    };
    if found != expected {
        return Err(ImageError::WrongFormat { expected, found });
    }
    let (width, height) = match found {
        ImageFormat::Jpeg => decode_jpeg(bytes)?,
        ImageFormat::Png => decode_png(bytes)?,
        ImageFormat::Wsq => decode_wsq(bytes)?,
    };
    let (min_width, min_height) = match role {
        ImageRole::FacePhoto => (240, 320),
        ImageRole::Fingerprint => (150, 150),
        ImageRole::DocumentPhoto => (160, 100),
    };
    let fits = (min_width..=MAX_SIDE).contains(&width) && (min_height..=MAX_SIDE).contains(&height);
    // Face photos may be landscape camera frames: compare the shorter side with the smaller minimum.
    let fits_rotated = role == ImageRole::FacePhoto
        && (min_width..=MAX_SIDE).contains(&height)
        && (min_height..=MAX_SIDE).contains(&width);
    if !(fits || fits_rotated) {
        return Err(ImageError::BadSize { width, height });
    }
    // Sides are at most MAX_SIDE, so they fit in u32.
    Ok((found, width as u32, height as u32))
}

fn decode_jpeg(bytes: &[u8]) -> Result<(usize, usize), ImageError> {
    // A JPEG cut short still decodes in lenient mode (the decoder pads it with grey): insist on
    // the end-of-image marker and strict decoding, so a damaged file is refused.
    if !bytes.ends_with(&[0xFF, 0xD9]) {
        return Err(ImageError::Undecodable {
            detail: "no end-of-image marker: the file is cut short".into(),
        });
    }
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let undecodable = |error: zune_jpeg::errors::DecodeErrors| ImageError::Undecodable {
        detail: error.to_string(),
    };
    decoder.decode_headers().map_err(undecodable)?;
    let size = decoder
        .output_buffer_size()
        .ok_or(ImageError::Undecodable {
            detail: "no image size in the headers".into(),
        })?;
    let mut pixels = vec![0u8; size];
    let decoded = decoder.decode_into(&mut pixels).map_err(undecodable);
    pixels.zeroize();
    decoded?;
    let info = decoder.info().ok_or(ImageError::Undecodable {
        detail: "no image information".into(),
    })?;
    Ok((usize::from(info.width), usize::from(info.height)))
}

fn decode_wsq(bytes: &[u8]) -> Result<(usize, usize), ImageError> {
    let decoded = super::wsq::decode(bytes).map_err(|e| ImageError::Undecodable {
        detail: e.to_string(),
    })?;
    Ok((decoded.picture.width(), decoded.picture.height()))
}

fn decode_png(bytes: &[u8]) -> Result<(usize, usize), ImageError> {
    let undecodable = |error: png::DecodingError| ImageError::Undecodable {
        detail: error.to_string(),
    };
    let limits = png::Limits {
        bytes: MAX_SIDE * MAX_SIDE * 2,
    };
    let decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    let mut reader = decoder.read_info().map_err(undecodable)?;
    let (width, height) = (reader.info().width as usize, reader.info().height as usize);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::BadSize { width, height });
    }
    if reader.info().color_type != png::ColorType::Grayscale
        || reader.info().bit_depth != png::BitDepth::Eight
    {
        return Err(ImageError::NotGreyscale);
    }
    let size = reader
        .output_buffer_size()
        .ok_or(ImageError::BadSize { width, height })?;
    let mut pixels = vec![0u8; size];
    let decoded = reader.next_frame(&mut pixels).map_err(undecodable);
    pixels.zeroize();
    decoded?;
    Ok((width, height))
}

#[cfg(test)]
mod tests;
