//! Finding fingerprint sensors: serial devices behind the USB-UART bridges such modules ship
//! with, found through sysfs by vendor and product id, then confirmed by a handshake.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::driver::{R30x, SensorError, open_serial};
use super::{FingerprintSensor, SensorDescription};

/// USB-UART bridge chips seen on R30x / AS608 / ZFM modules: (vendor, product, name).
pub const BRIDGES: &[(u16, u16, &str)] = &[
    (0x1a86, 0x7523, "CH340"),
    (0x1a86, 0x5523, "CH341"),
    (0x1a86, 0x55d4, "CH9102"),
    (0x10c4, 0xea60, "CP210x"),
    (0x0403, 0x6001, "FTDI FT232R"),
    (0x0403, 0x6015, "FTDI FT-X"),
    (0x067b, 0x2303, "PL2303"),
    (0x067b, 0x23a3, "PL2303GC"),
];

/// A serial device behind a known bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeDevice {
    /// The device node, e.g. `/dev/ttyUSB0`.
    pub device: PathBuf,
    /// USB vendor id.
    pub vendor: u16,
    /// USB product id.
    pub product: u16,
    /// The bridge chip's name.
    pub chip: &'static str,
}

fn read_hex(path: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(path).ok()?;
    u16::from_str_radix(text.trim(), 16).ok()
}

/// The USB vendor and product of the device a tty hangs off: the nearest ancestor in sysfs
/// with `idVendor` and `idProduct`.
fn usb_ids(tty_class_entry: &Path) -> Option<(u16, u16)> {
    let mut directory = std::fs::canonicalize(tty_class_entry.join("device")).ok()?;
    loop {
        if let (Some(vendor), Some(product)) = (
            read_hex(&directory.join("idVendor")),
            read_hex(&directory.join("idProduct")),
        ) {
            return Some((vendor, product));
        }
        if !directory.pop() {
            return None;
        }
    }
}

/// Serial devices behind known bridges, looking in `sys_class_tty` (normally
/// `/sys/class/tty`) and naming nodes under `dev` (normally `/dev`). Sorted by device.
pub fn find_bridges(sys_class_tty: &Path, dev: &Path) -> Vec<BridgeDevice> {
    let Ok(entries) = std::fs::read_dir(sys_class_tty) else {
        return Vec::new();
    };
    let mut found: Vec<BridgeDevice> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let (vendor, product) = usb_ids(&entry.path())?;
            let (_, _, chip) = BRIDGES
                .iter()
                .find(|(v, p, _)| *v == vendor && *p == product)?;
            Some(BridgeDevice {
                device: dev.join(entry.file_name()),
                vendor,
                product,
                chip,
            })
        })
        .collect();
    found.sort_by(|a, b| a.device.cmp(&b.device));
    found
}

/// Confirms a sensor answers on `device` (default address and password, 57,600 baud).
pub fn probe(device: &Path) -> Result<SensorDescription, SensorError> {
    let path = device.to_string_lossy();
    let link = open_serial(&path, 57_600, Duration::from_millis(500))?;
    let sensor = R30x::connect(link, super::packet::DEFAULT_ADDRESS, 0)?;
    Ok(sensor.describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A sysfs-shaped tree: a USB device with an interface and a tty below it, linked from
    /// class/tty as the kernel does.
    fn fake_sysfs(root: &Path, tty: &str, vendor: &str, product: &str, port: &str) {
        let usb = root.join(format!("devices/pci0000:00/usb1/{port}"));
        let interface = usb.join(format!("{port}:1.0"));
        std::fs::create_dir_all(interface.join(tty)).unwrap();
        std::fs::write(usb.join("idVendor"), format!("{vendor}\n")).unwrap();
        std::fs::write(usb.join("idProduct"), format!("{product}\n")).unwrap();
        std::fs::create_dir_all(root.join(format!("class/tty/{tty}"))).unwrap();
        symlink(
            interface.join(tty),
            root.join(format!("class/tty/{tty}/device")),
        )
        .unwrap();
    }

    #[test]
    fn bridges_are_found_by_their_usb_ids_and_others_ignored() {
        let root = tempfile::tempdir().unwrap();
        fake_sysfs(root.path(), "ttyUSB1", "10c4", "ea60", "1-2");
        fake_sysfs(root.path(), "ttyUSB0", "1a86", "7523", "1-1");
        fake_sysfs(root.path(), "ttyACM0", "2341", "0043", "1-3"); // an Arduino
        std::fs::create_dir_all(root.path().join("class/tty/ttyS0")).unwrap(); // no device link
        let found = find_bridges(&root.path().join("class/tty"), Path::new("/dev"));
        assert_eq!(
            found,
            vec![
                BridgeDevice {
                    device: "/dev/ttyUSB0".into(),
                    vendor: 0x1a86,
                    product: 0x7523,
                    chip: "CH340"
                },
                BridgeDevice {
                    device: "/dev/ttyUSB1".into(),
                    vendor: 0x10c4,
                    product: 0xea60,
                    chip: "CP210x"
                },
            ]
        );
    }

    #[test]
    fn a_missing_sysfs_finds_nothing() {
        assert!(find_bridges(Path::new("/nonexistent/class/tty"), Path::new("/dev")).is_empty());
    }
}
