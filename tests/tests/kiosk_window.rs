//! `sajili kiosk --simulate` as a desktop program: a real X server (Xvfb), the winit backend,
//! systemd's notify protocol on a socket of the test's, a screenshot read back pixel by pixel,
//! and a mouse click that reaches the screens. Also `sajili staff add` and the PIN it stores.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sajili_tests::{TestDevice, sajili_bin};

/// An X server on a free display, stopped when dropped.
struct Xvfb {
    display: String,
    child: Child,
}

impl Xvfb {
    fn start() -> Self {
        let number = (90..140)
            .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
            .expect("a free X display");
        let display = format!(":{number}");
        let child = Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed by scripts/setup");
        let socket = format!("/tmp/.X11-unix/X{number}");
        let start = Instant::now();
        while !Path::new(&socket).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "Xvfb did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { display, child }
    }

    /// The whole screen, RGB, from `xwd`.
    fn screenshot(&self) -> (usize, usize, Vec<u8>) {
        let output = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.display])
            .output()
            .expect("xwd is installed by scripts/setup");
        assert!(output.status.success());
        parse_xwd(&output.stdout)
    }

    fn click(&self, x: u32, y: u32) {
        let xdotool = |args: &[&str]| {
            let status = Command::new("xdotool")
                .args(args)
                .env("DISPLAY", &self.display)
                .status()
                .expect("xdotool is installed by scripts/setup");
            assert!(status.success());
        };
        // The pointer arrives first, then presses, as a finger or a mouse does.
        xdotool(&["mousemove", &x.to_string(), &y.to_string()]);
        std::thread::sleep(Duration::from_millis(300));
        xdotool(&["click", "1"]);
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 24-bit TrueColor XWD dump (X11's own format) to RGB.
fn parse_xwd(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let word = |i: usize| u32::from_be_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (header, width, height) = (word(0), word(4), word(5));
    let (byte_order, bits_per_pixel, bytes_per_line, colours) =
        (word(7), word(11), word(12), word(19));
    assert_eq!(bits_per_pixel, 32);
    let data = &bytes[header + colours * 12..];
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let p = &data[y * bytes_per_line + x * 4..][..4];
            // LSB first: B G R X.
            if byte_order == 0 {
                rgb.extend_from_slice(&[p[2], p[1], p[0]]);
            } else {
                rgb.extend_from_slice(&[p[1], p[2], p[3]]);
            }
        }
    }
    (width, height, rgb)
}

fn pixel(shot: &(usize, usize, Vec<u8>), x: usize, y: usize) -> [u8; 3] {
    let i = (y * shot.0 + x) * 3;
    [shot.2[i], shot.2[i + 1], shot.2[i + 2]]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6)
}

/// The theme's brand green (Theme.brand) and page colour (Theme.page).
const BRAND: [u8; 3] = [0x0b, 0x6e, 0x4f];
const PAGE: [u8; 3] = [0xf4, 0xf1, 0xea];

#[test]
fn the_kiosk_opens_a_window_tells_systemd_it_is_ready_and_takes_a_click() {
    let device = TestDevice::init();
    let x = Xvfb::start();
    let socket_path = device.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut kiosk = Command::new(sajili_bin())
        .args([
            "--data",
            device.data.to_str().unwrap(),
            "kiosk",
            "--simulate",
        ])
        .env("DISPLAY", &x.display)
        .env("NOTIFY_SOCKET", &socket_path)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // READY=1 once the first screen is up, then the watchdog's pings from the UI thread.
    let mut buffer = [0u8; 256];
    let mut messages = Vec::new();
    while !messages.iter().any(|m: &String| m == "WATCHDOG=1") {
        let n = socket
            .recv(&mut buffer)
            .expect("a notification within a minute");
        messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    assert_eq!(messages[0], "READY=1", "{messages:?}");

    // The language screen: the green title bar, the page, the big green "English" button.
    let start = Instant::now();
    let shot = loop {
        let shot = x.screenshot();
        if close(pixel(&shot, 640, 200), PAGE) && close(pixel(&shot, 866, 470), BRAND) {
            break shot;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no language screen: {:?} {:?}",
            pixel(&shot, 640, 200),
            pixel(&shot, 866, 470)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(close(pixel(&shot, 640, 5), BRAND));

    // A click on "English" reaches the screens: the consent screen's white "I agree as the
    // parent or guardian" button appears where the language screen has bare page.
    assert!(close(pixel(&shot, 100, 540), PAGE));
    x.click(866, 498);
    let start = Instant::now();
    loop {
        let shot = x.screenshot();
        if close(pixel(&shot, 100, 540), [255, 255, 255]) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the click did not reach the kiosk"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    kiosk.kill().unwrap();
    kiosk.wait().unwrap();
}

#[test]
fn staff_are_added_with_a_pin_from_standard_input() {
    let device = TestDevice::init();
    let add = |number: &str, role: &str, pin: &str| {
        let mut child = Command::new(sajili_bin())
            .args([
                "--data",
                device.data.to_str().unwrap(),
                "staff",
                "add",
                "--number",
                number,
                "--role",
                role,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pin}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = add("OP-7", "operator", "246813");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Four digits are too few for a new PIN.
    let bad_pin = add("OP-8", "operator", "2468");
    assert_eq!(bad_pin.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_pin.stderr).contains("6 to 12 digits"));
    let bad_number = add("op 9", "supervisor", "246813");
    assert_eq!(bad_number.status.code(), Some(2));

    let opened = sajili::device::open(&sajili::device::DataDir::new(&device.data)).unwrap();
    assert_eq!(
        sajili::staff::check(&opened.store, "OP-7", "246813", 0).unwrap(),
        Some(sajili::staff::Role::Operator)
    );
    assert_eq!(
        sajili::staff::check(&opened.store, "OP-8", "2468", 0).unwrap(),
        None
    );
}
