//! The kiosk on its devices' simulated twins: a camera serving a public-domain face photo and
//! a fingerprint sensor on a pseudo-terminal serving synthetic prints. The kiosk's own driver
//! code runs unchanged against them.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sajili_drivers::camera::{Camera, CameraFaults, CameraTwin, PixelFormat};
use sajili_drivers::fingerprint::{self, FingerprintSensor, R30x, Twin, TwinConfig};

use super::devices::{Devices, FrameReader, SensorOpener};
use crate::biometrics::photo::Rgb;
use crate::biometrics::synth::SyntheticFinger;

/// Head and shoulders of NASA's public-domain portrait of Eileen Collins (scikit-image's
/// astronaut.png), framed as a 640 x 480 camera would see an applicant.
pub const DEMO_FACE: &[u8] = include_bytes!("../../assets/demo-face.jpg");

/// The camera twin: the demo face, moving by a few pixels, as MJPEG at 15 frames a second.
pub fn camera() -> Result<FrameReader, String> {
    camera_at(15)
}

/// The camera twin at `fps` frames a second (the benchmark asks for more than any camera).
pub fn camera_at(fps: u32) -> Result<FrameReader, String> {
    camera_with_plug(fps).map(|(reader, _)| reader)
}

/// The camera twin and its cable: set the switch to unplug it, clear it to plug it back.
pub fn camera_with_plug(fps: u32) -> Result<(FrameReader, Arc<AtomicBool>), String> {
    let face = Rgb::decode(DEMO_FACE).map_err(|e| e.to_string())?;
    let (width, height) = (face.width(), face.height());
    // Slight shifts, as a person standing in front of the camera sways.
    let frames: Vec<Vec<u8>> = [0i32, 2, 4, 2, 0, -2]
        .iter()
        .map(|&dx| {
            let mut shifted = Vec::with_capacity(width * height * 3);
            for y in 0..height {
                for x in 0..width {
                    let sx = (x as i32 + dx).clamp(0, width as i32 - 1) as usize;
                    let i = (y * width + sx) * 3;
                    shifted.extend_from_slice(&face.pixels()[i..i + 3]);
                }
            }
            shifted
        })
        .collect();
    let twin = CameraTwin::new(
        PixelFormat::Mjpeg,
        width as u32,
        height as u32,
        &frames,
        fps,
        CameraFaults::default(),
    );
    let plug = twin.unplug_switch();
    let mut camera = Camera::new(twin);
    Ok((Box::new(move || camera.next_frame()), plug))
}

/// Prints the sensor twin serves in turn: three impressions each of `fingers` synthetic
/// fingers (growing a finger's ridges is the slow part, ~0.3 s).
pub fn prints(fingers: u64) -> Vec<Vec<u8>> {
    let mut prints = Vec::new();
    for seed in 1..=fingers {
        let finger = SyntheticFinger::new(seed, 256, 288);
        prints.extend((0..3).map(|k| finger.impression(k)));
    }
    prints
}

/// The sensor twin on a new pty, serving `images`; returns how to open it.
pub fn sensor(images: Vec<Vec<u8>>) -> Result<SensorOpener, String> {
    sensor_with_plug(images).map(|(opener, _)| opener)
}

/// The sensor twin and its cable: while the switch is set it answers nothing.
pub fn sensor_with_plug(images: Vec<Vec<u8>>) -> Result<(SensorOpener, Arc<AtomicBool>), String> {
    let twin = Twin::new(TwinConfig {
        images,
        polls_before_finger: 2,
        ..TwinConfig::default()
    });
    let plug = twin.unplug_switch();
    let path = twin
        .spawn_on_pty()
        .map_err(|e| format!("the sensor twin did not start: {e}"))?;
    let path = path.to_string_lossy().into_owned();
    let opener: SensorOpener = Box::new(move || {
        let link = fingerprint::open_serial(&path, 57_600, Duration::from_millis(500))?;
        let sensor = R30x::connect(link, fingerprint::packet::DEFAULT_ADDRESS, 0)?;
        Ok(Box::new(sensor) as Box<dyn FingerprintSensor + Send>)
    });
    Ok((opener, plug))
}

/// Both twins, running. The device test checks the twins alone: the machine's own input
/// devices are not the kiosk's.
pub fn devices(fingers: u64) -> Result<Devices, String> {
    Ok(Devices::start(Some(camera()?), Some(sensor(prints(fingers))?)).without_input_list())
}
