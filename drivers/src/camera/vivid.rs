//! The kernel's vivid test driver as a camera that shows a face: what is written to its HDMI
//! output comes back on its HDMI input when its "Loop Video" control is on, so the kiosk's own
//! V4L2 code ([`super::V4lSource`]) captures a picture of our choosing through the real kernel
//! interface (ioctls, mmap streaming), as in the boot test, where no camera is plugged in.
//!
//! vivid loops only HDMI to HDMI (or S-Video to S-Video), with the input's and the output's
//! picture sizes equal and one pixel format on both (vivid-vid-common.c, `vivid_vid_can_loop`).
//! Loaded with `num_inputs=1 input_types=0x3 num_outputs=1 output_types=0x1` both ends are
//! HDMI at their default timings, 1280x720; with `ccs_cap_mode=4` its capture side scales, so
//! the kiosk asks for 640x480 as from any camera. The pictures are therefore written at
//! 1280x720, stretched from 640x480, and come back at 640x480 as they were.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use v4l::FourCC;
use v4l::capability::Flags;
use v4l::control::{Control, Value};
use v4l::video::Output;

use super::{CameraError, rgb_to_yuyv};

/// The size vivid's HDMI ends run at by default (CEA 1280x720p60).
pub const LOOP_SIZE: (usize, usize) = (1280, 720);

/// vivid's capture and output nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VividNodes {
    /// The capture node (the "camera" the kiosk opens).
    pub capture: PathBuf,
    /// The output node the pictures are written to.
    pub output: PathBuf,
}

fn error(path: &Path, detail: impl std::fmt::Display) -> CameraError {
    CameraError::Open {
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

/// Finds vivid's capture and output nodes among `/dev/video*`.
pub fn find_vivid() -> Result<VividNodes, CameraError> {
    let (mut capture, mut output) = (None, None);
    for node in v4l::context::enum_devices() {
        let Ok(device) = v4l::Device::with_path(node.path()) else {
            continue;
        };
        let Ok(caps) = device.query_caps() else {
            continue;
        };
        if caps.driver != "vivid" {
            continue;
        }
        if caps.capabilities.contains(Flags::VIDEO_CAPTURE) && capture.is_none() {
            capture = Some(node.path().to_path_buf());
        }
        if caps.capabilities.contains(Flags::VIDEO_OUTPUT) && output.is_none() {
            output = Some(node.path().to_path_buf());
        }
    }
    match (capture, output) {
        (Some(capture), Some(output)) => Ok(VividNodes { capture, output }),
        _ => Err(error(
            Path::new("/dev/video*"),
            "no vivid device with both a capture and an output node (modprobe vivid)",
        )),
    }
}

/// Stretches an RGB picture of `width` x `height` to [`LOOP_SIZE`] (nearest pixel: vivid's
/// own scaler takes it back the same way) and converts it to YUYV.
pub fn loop_frame(rgb: &[u8], width: usize, height: usize) -> Option<Vec<u8>> {
    if width == 0 || height == 0 || rgb.len() != width * height * 3 {
        return None;
    }
    let (out_w, out_h) = LOOP_SIZE;
    let mut stretched = Vec::with_capacity(out_w * out_h * 3);
    for y in 0..out_h {
        let sy = y * height / out_h;
        for x in 0..out_w {
            let sx = x * width / out_w;
            let i = (sy * width + sx) * 3;
            stretched.extend_from_slice(&rgb[i..i + 3]);
        }
    }
    Some(rgb_to_yuyv(&stretched, out_w, out_h))
}

/// Turns vivid's loop on and writes `frames` (YUYV at [`LOOP_SIZE`], from [`loop_frame`]) to
/// its output in turn, each for `repeat` output frames, until `stop` is set. vivid takes
/// output frames at its own rate (60 a second): a write waits for a free buffer, which paces
/// the loop.
pub fn feed(
    nodes: &VividNodes,
    frames: &[Vec<u8>],
    repeat: usize,
    stop: &AtomicBool,
) -> Result<(), CameraError> {
    let (width, height) = LOOP_SIZE;
    if frames.is_empty() || frames.iter().any(|f| f.len() != width * height * 2) {
        return Err(error(&nodes.output, "no frames of the loop's size to show"));
    }
    let output = v4l::Device::with_path(&nodes.output).map_err(|e| error(&nodes.output, e))?;
    let mut format = Output::format(&output).map_err(|e| error(&nodes.output, e))?;
    format.width = width as u32;
    format.height = height as u32;
    format.fourcc = FourCC::new(b"YUYV");
    let set = Output::set_format(&output, &format).map_err(|e| error(&nodes.output, e))?;
    if (set.width as usize, set.height as usize) != LOOP_SIZE || set.fourcc != format.fourcc {
        return Err(error(
            &nodes.output,
            format!(
                "the output took {}x{} {}, not {width}x{height} YUYV",
                set.width, set.height, set.fourcc
            ),
        ));
    }
    loop_video(&nodes.capture, true)?;
    // write() rather than mmap streaming: the kernel's read/write emulation queues each frame
    // written and starts the stream once vivid has the two it needs, where the v4l crate's
    // output stream waits for a finished buffer before queueing its first.
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&nodes.output)
        .map_err(|e| error(&nodes.output, e))?;
    let mut shown = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let frame = &frames[(shown / repeat.max(1)) % frames.len()];
        writer
            .write_all(frame)
            .map_err(|e| error(&nodes.output, e))?;
        shown = shown.wrapping_add(1);
    }
    Ok(())
}

/// Sets vivid's "Loop Video" control on its capture node.
fn loop_video(capture: &Path, on: bool) -> Result<(), CameraError> {
    let device = v4l::Device::with_path(capture).map_err(|e| error(capture, e))?;
    let control = device
        .query_controls()
        .map_err(|e| error(capture, e))?
        .into_iter()
        .find(|c| c.name == "Loop Video")
        .ok_or_else(|| error(capture, "vivid has no Loop Video control"))?;
    device
        .set_control(Control {
            id: control.id,
            value: Value::Boolean(on),
        })
        .map_err(|e| error(capture, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_stretched_to_the_loop_and_comes_back_by_nearest_pixel() {
        // A 4x2 picture: each pixel its own colour.
        let rgb: Vec<u8> = (0..8u8).flat_map(|i| [i * 30, 255 - i * 30, 128]).collect();
        let yuyv = loop_frame(&rgb, 4, 2).expect("frame");
        assert_eq!(yuyv.len(), LOOP_SIZE.0 * LOOP_SIZE.1 * 2);
        // Taken back to 4x2 by nearest pixel, as vivid's scaler does, each pixel's luma is
        // the original's.
        let back = crate::camera::yuyv_to_rgb(&yuyv, LOOP_SIZE.0, LOOP_SIZE.1).expect("rgb");
        for (i, chunk) in rgb.chunks(3).enumerate() {
            let (x, y) = (i % 4, i / 4);
            let (bx, by) = (x * LOOP_SIZE.0 / 4 + 2, y * LOOP_SIZE.1 / 2 + 2);
            let j = (by * LOOP_SIZE.0 + bx) * 3;
            let luma =
                |p: &[u8]| (p[0] as i32 * 299 + p[1] as i32 * 587 + p[2] as i32 * 114) / 1000;
            assert!(
                (luma(chunk) - luma(&back[j..j + 3])).abs() <= 8,
                "pixel {i}: {chunk:?} came back as {:?}",
                &back[j..j + 3]
            );
        }
    }

    #[test]
    fn pictures_of_the_wrong_size_are_refused() {
        assert_eq!(loop_frame(&[0; 5], 2, 1), None);
        assert_eq!(loop_frame(&[], 0, 0), None);
    }
}
