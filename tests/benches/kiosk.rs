//! The kiosk's own speed and size: start to first frame (inside this process: the time to
//! exec and load the program is not counted), peak memory through a whole
//! enrolment, and frames per second of the live photo preview with the face checks running.
//! Prints figures; asserts nothing (the machine is shared). Goals: first frame < 0.5 s,
//! peak RSS < 80 MB, preview >= 15 fps on one core.
//!
//! `cargo bench -p sajili-tests --bench kiosk -- --frames N`

use std::time::{Duration, Instant};

use sajili::clock::SystemClock;
use sajili::ui::devices::{Devices, check_frame};
use sajili::ui::{App, Kiosk, KioskWindow, demo, headless, twins};
use slint::ComponentHandle;

/// Peak and current resident memory of this process, in KiB (VmHWM, VmRSS).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn main() -> anyhow::Result<()> {
    let start = Instant::now();
    let args: Vec<String> = std::env::args().collect();
    let frames: usize = args
        .iter()
        .position(|a| a == "--frames")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir()?;

    // Start to first frame: what `sajili kiosk` does before the first picture, on a device
    // that exists (the data dir is made before the clock starts). The clock starts inside this
    // process, so process start (exec, dynamic loading, Rust's runtime) is not in the figure.
    let device = demo::throwaway_device(dir.path())?;
    drop(device);
    let t0 = Instant::now();
    let screen = headless::install().map_err(|e| anyhow::anyhow!("{e}"))?;
    let device = sajili::device::open(&sajili::device::DataDir::new(dir.path().join("device")))?;
    let ui = KioskWindow::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    ui.show().map_err(|e| anyhow::anyhow!("{e}"))?;
    let devices = Devices::start(None, None);
    let app = App::new(device, devices, Box::new(SystemClock), ui);
    let pixels = screen.render(1280, 800);
    let first_frame = t0.elapsed();
    assert_eq!(pixels.len(), 1280 * 800 * 3);
    drop(app);

    // Live preview: camera twin (MJPEG 640x480, unpaced) -> decode -> face checks -> the
    // photo screen drawn with the frame, all on this one thread.
    let mut camera = twins::camera_at(1000).map_err(|e| anyhow::anyhow!(e))?;
    let mut checker = sajili::biometrics::face::FaceChecker::new()?;
    let ui = KioskWindow::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    ui.show().map_err(|e| anyhow::anyhow!("{e}"))?;
    let kiosk = ui.global::<Kiosk>();
    kiosk.set_screen("photo".into());
    kiosk.set_preview_live(true);
    let mut passed = 0;
    let (mut camera_time, mut check_time, mut draw_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let preview_start = Instant::now();
    for _ in 0..frames {
        let t = Instant::now();
        let frame = camera()?;
        camera_time += t.elapsed();
        let t = Instant::now();
        // The token image is made only when a photo is about to be taken, as in the kiosk.
        let (ok, advice, _token) = check_frame(&mut checker, &frame, false);
        check_time += t.elapsed();
        passed += usize::from(ok);
        let t = Instant::now();
        kiosk.set_photo_advice(advice.unwrap_or_default().into());
        sajili::ui::show_preview(&ui, &frame);
        screen.render(1280, 800);
        draw_time += t.elapsed();
    }
    let preview = preview_start.elapsed();
    let fps = frames as f64 / preview.as_secs_f64();
    drop(ui);

    // A whole enrolment (the demo's script: status, refusal, assisted child enrolment with an
    // exception and a supervisor) on the twins, every screen drawn at 1280x800.
    let device = sajili::device::open(&sajili::device::DataDir::new(dir.path().join("device")))?;
    let devices = twins::devices(4).map_err(|e| anyhow::anyhow!(e))?;
    let ui = KioskWindow::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    ui.show().map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = App::new(device, devices, Box::new(SystemClock), ui);
    let mut walk = demo::Walk::new(app, &screen, (1280, 800), None);
    let walk_start = Instant::now();
    let number = demo::scripted_enrolment(&mut walk, "sw")?;
    let walk_time = walk_start.elapsed();
    let (peak, now) = memory_kib();

    let build = if cfg!(debug_assertions) {
        "dev build (opt-level 1, hot crates 2)"
    } else {
        "release build"
    };
    println!("kiosk benchmark ({build}, software renderer, 1280x800, partial redraws)");
    println!(
        "  start to first frame:        {:>7.1} ms   (in-process, without process start; goal < 500 ms)",
        ms(first_frame)
    );
    println!(
        "  live preview, 640x480 + face checks + redraw: {fps:.1} frames/s over {frames} frames \
         ({:.1} ms a frame, {passed} passed the checks; goal >= 15 fps on one core)",
        ms(preview) / frames as f64
    );
    println!(
        "    a frame: camera + MJPEG decode {:.1} ms, face checks (no token image) {:.1} ms, draw {:.1} ms",
        ms(camera_time) / frames as f64,
        ms(check_time) / frames as f64,
        ms(draw_time) / frames as f64
    );
    println!(
        "  whole enrolment ({number}, {:.1} s with the twins):",
        walk_time.as_secs_f64()
    );
    println!(
        "  peak resident memory:        {:>7.1} MB   (goal < 80 MB; now {:.1} MB; includes the \
         twins' threads)",
        peak as f64 / 1024.0,
        now as f64 / 1024.0
    );
    println!("  total bench time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
