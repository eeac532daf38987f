//! The real camera: a V4L2 capture device through the `v4l` crate, memory-mapped buffers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use v4l::FourCC;
use v4l::buffer::Type;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;

use super::{
    CameraError, FrameSource, Offer, PixelFormat, RawFrame, SizeRange, choose, cut_to_bytesused,
};

/// A capture device found on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// Its node, e.g. `/dev/video0`.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// What it offers.
    pub offers: Vec<Offer>,
}

fn offers(device: &v4l::Device) -> Vec<Offer> {
    let Ok(formats) = device.enum_formats() else {
        return Vec::new();
    };
    formats
        .iter()
        .map(|format| {
            let (mut sizes, mut ranges) = (Vec::new(), Vec::new());
            for size in device.enum_framesizes(format.fourcc).unwrap_or_default() {
                match size.size {
                    FrameSizeEnum::Discrete(d) => sizes.push((d.width, d.height)),
                    // Never spelt out: a scaler's range is millions of sizes.
                    FrameSizeEnum::Stepwise(s) => ranges.push(SizeRange {
                        min: (s.min_width, s.min_height),
                        max: (s.max_width, s.max_height),
                        step: (s.step_width, s.step_height),
                    }),
                }
            }
            Offer {
                fourcc: format.fourcc.repr,
                sizes,
                ranges,
            }
        })
        .collect()
}

/// Every V4L2 device that can capture, with its formats and sizes.
pub fn list_cameras() -> Vec<CameraInfo> {
    v4l::context::enum_devices()
        .into_iter()
        .filter_map(|node| {
            let device = v4l::Device::with_path(node.path()).ok()?;
            let capabilities = device.query_caps().ok()?;
            if !capabilities
                .capabilities
                .contains(v4l::capability::Flags::VIDEO_CAPTURE)
            {
                return None;
            }
            Some(CameraInfo {
                path: node.path().to_path_buf(),
                name: node.name().unwrap_or_else(|| capabilities.card.clone()),
                offers: offers(&device),
            })
        })
        .collect()
}

/// The longest wait for one frame: a camera gives one every 33-66 ms.
const FRAME_WAIT: Duration = Duration::from_secs(3);

/// A streaming V4L2 camera.
pub struct V4lSource {
    path: PathBuf,
    size: (u32, u32),
    format: PixelFormat,
    // The stream borrows nothing: it holds its own handle to the device.
    stream: Option<Stream<'static>>,
}

impl std::fmt::Debug for V4lSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4lSource")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish()
    }
}

fn open_error(path: &Path, error: impl std::fmt::Display) -> CameraError {
    CameraError::Open {
        path: path.display().to_string(),
        detail: error.to_string(),
    }
}

impl V4lSource {
    /// Opens `path` at `size`, MJPEG if offered, else YUYV.
    pub fn open(path: &Path, size: (u32, u32)) -> Result<Self, CameraError> {
        let mut source = Self {
            path: path.to_path_buf(),
            size,
            format: PixelFormat::Mjpeg,
            stream: None,
        };
        source.start()?;
        Ok(source)
    }

    fn start(&mut self) -> Result<(), CameraError> {
        let device = v4l::Device::with_path(&self.path).map_err(|e| open_error(&self.path, e))?;
        let offered = offers(&device);
        let format = choose(&offered, self.size).ok_or_else(|| CameraError::NoUsableFormat {
            size: self.size,
            offered: offered
                .iter()
                .map(|o| String::from_utf8_lossy(&o.fourcc).into_owned())
                .collect(),
        })?;
        let mut wanted = device.format().map_err(|e| open_error(&self.path, e))?;
        wanted.width = self.size.0;
        wanted.height = self.size.1;
        wanted.fourcc = FourCC::new(&format.fourcc());
        let set = device
            .set_format(&wanted)
            .map_err(|e| open_error(&self.path, e))?;
        if (set.width, set.height) != self.size {
            return Err(CameraError::NoUsableFormat {
                size: self.size,
                offered: vec![format!("{}x{}", set.width, set.height)],
            });
        }
        let mut stream = Stream::with_buffers(&device, Type::VideoCapture, 4)
            .map_err(|e| open_error(&self.path, e))?;
        // A camera that streams nothing must not hang the preview or the self-test.
        stream.set_timeout(FRAME_WAIT);
        self.format = format;
        self.stream = Some(stream);
        Ok(())
    }
}

impl FrameSource for V4lSource {
    fn format(&self) -> (PixelFormat, u32, u32) {
        (self.format, self.size.0, self.size.1)
    }

    fn next_raw(&mut self) -> Result<RawFrame, CameraError> {
        let stream = self.stream.as_mut().ok_or(CameraError::Disconnected)?;
        match CaptureStream::next(stream) {
            Ok((buffer, metadata)) => Ok(RawFrame {
                bytes: cut_to_bytesused(buffer, metadata.bytesused).to_vec(),
                timestamp: Duration::new(
                    metadata.timestamp.sec.max(0) as u64,
                    (metadata.timestamp.usec.clamp(0, 999_999) * 1_000) as u32,
                ),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                Err(CameraError::BadFrame(format!(
                    "no frame within {} s: the camera streams nothing",
                    FRAME_WAIT.as_secs()
                )))
            }
            // ENODEV: the camera is gone. Drop the stream; reopen() brings it back.
            Err(_) => {
                self.stream = None;
                Err(CameraError::Disconnected)
            }
        }
    }

    fn reopen(&mut self) -> Result<(), CameraError> {
        self.stream = None;
        self.start().map_err(|_| CameraError::Disconnected)
    }
}
