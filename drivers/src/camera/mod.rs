//! Cameras through V4L2 (MJPEG or YUYV), decoded to RGB, and a twin fed from images.
//!
//! A [`FrameSource`] hands over each frame's bytes (cut to what the driver filled) in its
//! pixel format; [`Camera`] decodes them the same way whether they came from /dev/video0 or
//! from the twin, and reopens the source when it was unplugged.

mod convert;
mod format;
mod mjpeg;
mod twin;
mod v4l_source;
mod vivid;

use std::fmt;
use std::time::Duration;

use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

pub use convert::{cut_to_bytesused, rgb_to_luma, rgb_to_yuyv, yuyv_to_rgb};
pub use format::{Offer, PixelFormat, SizeRange, choose};
pub use mjpeg::{MjpegError, STANDARD_DHT, has_huffman_tables, repair, strip_huffman_tables};
pub use twin::{CameraFaults, CameraTwin};
pub use v4l_source::{CameraInfo, V4lSource, list_cameras};
pub use vivid::{LOOP_SIZE, VividNodes, feed as feed_vivid, find_vivid, loop_frame};

/// One decoded frame.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// RGB24, row by row.
    pub rgb: Vec<u8>,
    /// When the frame was captured, since the stream started.
    pub timestamp: Duration,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Frame({}x{} at {:?})",
            self.width, self.height, self.timestamp
        )
    }
}

/// A frame's bytes as the source delivered them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// The bytes, cut to what was filled.
    pub bytes: Vec<u8>,
    /// When it was captured, since the stream started.
    pub timestamp: Duration,
}

/// Why no frame came.
#[derive(Debug)]
#[non_exhaustive]
pub enum CameraError {
    /// No camera at the path, or it cannot be opened.
    Open {
        /// The device.
        path: String,
        /// What the system said.
        detail: String,
    },
    /// The camera offers neither MJPEG nor YUYV at the size asked for.
    NoUsableFormat {
        /// The size asked for.
        size: (u32, u32),
        /// What it offers, for the message.
        offered: Vec<String>,
    },
    /// The camera was unplugged; the next call tries to reopen it.
    Disconnected,
    /// A frame arrived but does not decode (a glitch on the bus); the next may be fine.
    BadFrame(String),
}

impl fmt::Display for CameraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, detail } => write!(f, "cannot open the camera {path}: {detail}"),
            Self::NoUsableFormat { size, offered } => write!(
                f,
                "the camera offers neither MJPEG nor YUYV at {}x{} (it offers {})",
                size.0,
                size.1,
                offered.join(", ")
            ),
            Self::Disconnected => f.write_str("camera disconnected: check its cable"),
            Self::BadFrame(detail) => write!(f, "a damaged frame from the camera: {detail}"),
        }
    }
}

impl std::error::Error for CameraError {}

/// Where frames come from: a V4L2 device or the twin.
pub trait FrameSource {
    /// The pixel format and size of the frames.
    fn format(&self) -> (PixelFormat, u32, u32);
    /// The next frame's bytes (blocks until one is ready).
    fn next_raw(&mut self) -> Result<RawFrame, CameraError>;
    /// Tries to open the device again after a disconnection.
    fn reopen(&mut self) -> Result<(), CameraError>;
}

/// A camera: decoded frames from a source, reconnecting after an unplug.
#[derive(Debug)]
pub struct Camera<S: FrameSource> {
    source: S,
    disconnected: bool,
}

impl<S: FrameSource> Camera<S> {
    /// A camera over `source`.
    pub fn new(source: S) -> Self {
        Self {
            source,
            disconnected: false,
        }
    }

    /// The next decoded frame. After [`CameraError::Disconnected`], each call tries to reopen
    /// the device, so the stream comes back by itself when the camera is plugged in again.
    pub fn next_frame(&mut self) -> Result<Frame, CameraError> {
        if self.disconnected {
            self.source.reopen()?;
            self.disconnected = false;
        }
        let raw = match self.source.next_raw() {
            Err(CameraError::Disconnected) => {
                self.disconnected = true;
                return Err(CameraError::Disconnected);
            }
            other => other?,
        };
        let (format, width, height) = self.source.format();
        decode(format, width as usize, height as usize, raw)
    }
}

/// Decodes one raw frame.
pub fn decode(
    format: PixelFormat,
    width: usize,
    height: usize,
    raw: RawFrame,
) -> Result<Frame, CameraError> {
    let rgb = match format {
        PixelFormat::Yuyv => yuyv_to_rgb(&raw.bytes, width, height).ok_or_else(|| {
            CameraError::BadFrame(format!(
                "{} bytes for a {width}x{height} YUYV frame",
                raw.bytes.len()
            ))
        })?,
        PixelFormat::Mjpeg => {
            let jpeg = repair(&raw.bytes).map_err(|e| CameraError::BadFrame(e.to_string()))?;
            let options = DecoderOptions::default()
                .jpeg_set_out_colorspace(ColorSpace::RGB)
                .set_max_width(width.max(1))
                .set_max_height(height.max(1));
            let mut decoder = JpegDecoder::new_with_options(ZCursor::new(jpeg.as_ref()), options);
            decoder
                .decode_headers()
                .map_err(|e| CameraError::BadFrame(e.to_string()))?;
            let size = decoder
                .output_buffer_size()
                .ok_or_else(|| CameraError::BadFrame("no size in the frame".into()))?;
            if size != width * height * 3 {
                return Err(CameraError::BadFrame(format!(
                    "frame is not {width}x{height}"
                )));
            }
            let mut rgb = vec![0u8; size];
            decoder
                .decode_into(&mut rgb)
                .map_err(|e| CameraError::BadFrame(e.to_string()))?;
            rgb
        }
    };
    Ok(Frame {
        width,
        height,
        rgb,
        timestamp: raw.timestamp,
    })
}
