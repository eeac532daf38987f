//! The screens without a display: Slint's software renderer drawing into memory, for the
//! demo's screenshots on a server and for the benchmark.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{PhysicalSize, PlatformError, Rgb8Pixel};

struct Headless {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
}

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The one headless window and the picture it is drawn into. Like a panel's frame buffer, the
/// picture is kept between frames and only what changed is drawn again.
pub struct Screen {
    window: Rc<MinimalSoftwareWindow>,
    buffer: RefCell<(PhysicalSize, Vec<Rgb8Pixel>)>,
}

/// Makes the software renderer this thread's platform; returns its screen.
pub fn install() -> Result<Screen, PlatformError> {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::ReusedBuffer);
    slint::platform::set_platform(Box::new(Headless {
        window: window.clone(),
        start: Instant::now(),
    }))
    .map_err(|e| PlatformError::Other(e.to_string()))?;
    Ok(Screen {
        window,
        buffer: RefCell::new((PhysicalSize::new(0, 0), Vec::new())),
    })
}

impl Screen {
    /// Draws the window at `width` x `height` and returns its pixels (RGB, row by row).
    pub fn render(&self, width: u32, height: u32) -> Vec<u8> {
        let size = PhysicalSize::new(width, height);
        let mut buffer = self.buffer.borrow_mut();
        if buffer.0 != size {
            self.window.set_size(size);
            *buffer = (size, vec![Rgb8Pixel::default(); (width * height) as usize]);
            self.window.request_redraw();
        }
        slint::platform::update_timers_and_animations();
        let pixels = &mut buffer.1;
        self.window.draw_if_needed(|renderer| {
            renderer.render(pixels, width as usize);
        });
        pixels.iter().flat_map(|p| [p.r, p.g, p.b]).collect()
    }
}

/// Writes RGB pixels as a PNG.
pub fn write_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Screens are flat colour and kept in the repository: worth the slower, smaller encoding.
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(rgb)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}
