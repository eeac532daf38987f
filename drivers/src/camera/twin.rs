//! The camera twin: frames from images (or a generated scene) at a set rate, as MJPEG without
//! Huffman tables (as many webcams send) or as YUYV, with faults on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{CameraError, FrameSource, PixelFormat, RawFrame, rgb_to_yuyv, strip_huffman_tables};

/// Faults the camera twin can inject.
#[derive(Debug, Clone, Default)]
pub struct CameraFaults {
    /// Every Nth frame is garbage bytes.
    pub garbage_every: Option<u32>,
}

/// A simulated camera.
#[derive(Debug)]
pub struct CameraTwin {
    format: PixelFormat,
    width: u32,
    height: u32,
    frames: Vec<Vec<u8>>,
    interval: Duration,
    started: Instant,
    count: u32,
    faults: CameraFaults,
    unplugged: Arc<AtomicBool>,
    /// Frames served instead while its switch is set: something else is in front of the
    /// camera (a document held up to it).
    alternate: Option<(Vec<Vec<u8>>, Arc<AtomicBool>)>,
}

impl CameraTwin {
    /// A twin serving `rgb_frames` (RGB24, `width` x `height` each) in turn at `fps`.
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        rgb_frames: &[Vec<u8>],
        fps: u32,
        faults: CameraFaults,
    ) -> Self {
        Self {
            format,
            width,
            height,
            frames: encode(format, width, height, rgb_frames),
            interval: Duration::from_secs(1) / fps.max(1),
            started: Instant::now(),
            count: 0,
            faults,
            unplugged: Arc::new(AtomicBool::new(false)),
            alternate: None,
        }
    }

    /// Serves `rgb_frames` (the same size as the others) instead while `switch` is set, as
    /// when someone holds a document up to the camera; returns the twin.
    pub fn with_alternate(mut self, rgb_frames: &[Vec<u8>], switch: Arc<AtomicBool>) -> Self {
        let frames = encode(self.format, self.width, self.height, rgb_frames);
        self.alternate = Some((frames, switch));
        self
    }

    /// A twin serving JPEG files (all the same size) in turn at `fps`.
    pub fn from_jpeg_files(
        format: PixelFormat,
        paths: &[std::path::PathBuf],
        fps: u32,
        faults: CameraFaults,
    ) -> Result<Self, CameraError> {
        let mut frames = Vec::with_capacity(paths.len());
        let mut size = None;
        for path in paths {
            let bad = |detail: String| CameraError::Open {
                path: path.display().to_string(),
                detail,
            };
            let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
                zune_jpeg::zune_core::bytestream::ZCursor::new(&bytes),
                zune_jpeg::zune_core::options::DecoderOptions::default()
                    .jpeg_set_out_colorspace(zune_jpeg::zune_core::colorspace::ColorSpace::RGB),
            );
            let rgb = decoder.decode().map_err(|e| bad(e.to_string()))?;
            let info = decoder
                .info()
                .ok_or_else(|| bad("no image information".into()))?;
            let this = (u32::from(info.width), u32::from(info.height));
            if *size.get_or_insert(this) != this {
                return Err(bad(format!("{}x{}, unlike the first file", this.0, this.1)));
            }
            frames.push(rgb);
        }
        let (width, height) = size.ok_or_else(|| CameraError::Open {
            path: "-".into(),
            detail: "no image files given".into(),
        })?;
        Ok(Self::new(format, width, height, &frames, fps, faults))
    }

    /// A switch that unplugs the camera while set.
    pub fn unplug_switch(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unplugged)
    }

    /// A generated scene: a light background with a head-and-shoulders shape, moving slightly.
    pub fn scene(width: u32, height: u32, phase: u32) -> Vec<u8> {
        let mut rgb = Vec::with_capacity((width * height * 3) as usize);
        let shift = (phase % 20) as f32 - 10.0;
        for y in 0..height {
            for x in 0..width {
                let fx = (x as f32 - width as f32 / 2.0 - shift) / width as f32;
                let fy = y as f32 / height as f32 - 0.42;
                let head = (fx / 0.16).powi(2) + (fy / 0.24).powi(2) < 1.0;
                let pixel = if head {
                    [160, 110, 85]
                } else if fy > 0.3 && fx.abs() < 0.35 {
                    [40, 60, 110]
                } else {
                    [228, 230, 232]
                };
                rgb.extend_from_slice(&pixel);
            }
        }
        rgb
    }
}

/// Each RGB frame in the twin's pixel format: YUYV, or MJPEG without Huffman tables.
fn encode(format: PixelFormat, width: u32, height: u32, rgb_frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    rgb_frames
        .iter()
        .map(|rgb| match format {
            PixelFormat::Yuyv => rgb_to_yuyv(rgb, width as usize, height as usize),
            PixelFormat::Mjpeg => {
                let mut jpeg = Vec::new();
                let encoded = jpeg_encoder::Encoder::new(&mut jpeg, 85).encode(
                    rgb,
                    width as u16,
                    height as u16,
                    jpeg_encoder::ColorType::Rgb,
                );
                match encoded {
                    Ok(()) => strip_huffman_tables(&jpeg).unwrap_or(jpeg),
                    Err(_) => Vec::new(),
                }
            }
        })
        .collect()
}

impl FrameSource for CameraTwin {
    fn format(&self) -> (PixelFormat, u32, u32) {
        (self.format, self.width, self.height)
    }

    fn next_raw(&mut self) -> Result<RawFrame, CameraError> {
        if self.unplugged.load(Ordering::SeqCst) {
            return Err(CameraError::Disconnected);
        }
        if self.frames.is_empty() {
            return Err(CameraError::BadFrame("the twin has no frames".into()));
        }
        let due = self.started + self.interval * self.count;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        self.count += 1;
        let timestamp = self.interval * self.count;
        if self
            .faults
            .garbage_every
            .is_some_and(|n| n > 0 && self.count.is_multiple_of(n))
        {
            return Ok(RawFrame {
                bytes: vec![0x5A; 1000],
                timestamp,
            });
        }
        let frames = match &self.alternate {
            Some((frames, switch)) if switch.load(Ordering::SeqCst) && !frames.is_empty() => frames,
            _ => &self.frames,
        };
        let index = (self.count as usize - 1) % frames.len();
        Ok(RawFrame {
            bytes: frames[index].clone(),
            timestamp,
        })
    }

    fn reopen(&mut self) -> Result<(), CameraError> {
        if self.unplugged.load(Ordering::SeqCst) {
            Err(CameraError::Disconnected)
        } else {
            Ok(())
        }
    }
}
