//! The installer of signed updates (`sajili update install`, its own unit): checks a bundle's
//! signature against the update key pinned in the image and its version against the running
//! one, writes the new root into the inactive A/B slot and its kernel and initrd beside it on
//! the EFI partition, and last adds one boot entry with tries. The boot counting that exists
//! (systemd-boot, `sajili-healthy.service`, systemd-bless-boot) keeps the new root if its kiosk
//! comes up, or goes back to the running one when its tries run out.
//!
//! The order is what keeps a device bootable whatever happens: the inactive slot's old entry
//! goes first, so a half-written slot is never offered; the new entry is written (temporary
//! file, fsync, rename) only once every part has been written and has the hash the signed
//! manifest names. The running slot is never opened.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

pub use sajili_record::update::{Manifest, UpdateError, make_bundle, parse_version};
use sajili_record::update::{copy_part, read_header};

/// Tries a new root gets before the device goes back to the one it had.
pub const TRIES: u32 = 3;

/// Where the public update key is pinned in the image (hex, by image-build).
pub const KEY_PATH: &str = "/usr/lib/sajili/update-key.pub";

/// Where the uplink leaves a downloaded bundle for the installer, and the installer its result.
pub const UPDATES_DIR: &str = "/var/lib/sajili/updates";

/// The extension of a bundle ready to install in [`UPDATES_DIR`] (named by its SHA-256; a
/// refused one is renamed `<sha256>.refused`, so it is neither installed nor fetched again).
pub const READY_EXTENSION: &str = "sju";

/// The bundle waiting in `dir` for the installer, if any.
pub fn ready_bundle(dir: &Path) -> Option<PathBuf> {
    let mut ready: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == READY_EXTENSION)
                && std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file())
        })
        .collect();
    ready.sort();
    ready.into_iter().next()
}

/// The name of the installer's last result in [`UPDATES_DIR`] (JSON [`Outcome`]).
pub const RESULT: &str = "result.json";

/// An A/B slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    /// `sajili-root-a`.
    A,
    /// `sajili-root-b`.
    B,
}

impl Slot {
    /// `a` or `b`, as in partition labels and entry names.
    pub fn letter(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
        }
    }

    /// The other slot.
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }

    /// The slot a root partition label names (`sajili-root-b`).
    pub fn of_label(label: &str) -> Option<Self> {
        match label {
            "sajili-root-a" => Some(Self::A),
            "sajili-root-b" => Some(Self::B),
            _ => None,
        }
    }
}

/// Where the device boots from.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The EFI system partition, mounted.
    pub esp: PathBuf,
    /// The two root slots' block devices (or files, in tests): A then B.
    pub slots: [PathBuf; 2],
    /// The slot running now: never written.
    pub running: Slot,
    /// The version running now.
    pub running_version: String,
}

impl Layout {
    /// The device's own layout: `/efi`, the partitions by label, the running slot from the
    /// kernel command line's `root=PARTLABEL=…`.
    pub fn on_device() -> Result<Self, UpdateError> {
        let cmdline = std::fs::read_to_string("/proc/cmdline")?;
        let running = cmdline
            .split_whitespace()
            .find_map(|arg| arg.strip_prefix("root=PARTLABEL="))
            .and_then(Slot::of_label)
            .ok_or_else(|| {
                UpdateError::Malformed(
                    "the running root is not an A/B slot (root=PARTLABEL=sajili-root-a|b)".into(),
                )
            })?;
        Ok(Self {
            esp: PathBuf::from("/efi"),
            slots: [
                PathBuf::from("/dev/disk/by-partlabel/sajili-root-a"),
                PathBuf::from("/dev/disk/by-partlabel/sajili-root-b"),
            ],
            running,
            running_version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }

    fn slot_path(&self, slot: Slot) -> &Path {
        match slot {
            Slot::A => &self.slots[0],
            Slot::B => &self.slots[1],
        }
    }

    fn entries(&self) -> PathBuf {
        self.esp.join("loader/entries")
    }

    /// The boot entries of `slot` (`sajili-b.conf`, `sajili-b+3.conf`, `sajili-b+1-2.conf`).
    fn entries_of(&self, slot: Slot) -> std::io::Result<Vec<PathBuf>> {
        let prefix = format!("sajili-{}", slot.letter());
        let mut found = Vec::new();
        for entry in std::fs::read_dir(self.entries())? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let rest = name.strip_prefix(&prefix);
            if rest.is_some_and(|rest| rest.starts_with('.') || rest.starts_with('+'))
                && name.ends_with(".conf")
            {
                found.push(entry.path());
            }
        }
        Ok(found)
    }
}

/// What the installer did, for the kiosk to log and the registry to hear (`result.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The version offered.
    pub version: Option<String>,
    /// Installed into this slot (and the entry with tries written); `None`: refused.
    pub slot: Option<Slot>,
    /// Why it was refused.
    pub refused: Option<String>,
    /// When, Unix seconds.
    pub at: i64,
    /// Seconds the install took.
    pub seconds: f64,
}

/// The installer's last result left in `dir` (the update directory), if there is one to read.
pub fn last_outcome(dir: &Path) -> Option<Outcome> {
    let bytes = crate::device::read_untrusted(&dir.join(RESULT), 64 * 1024, "the update result")
        .ok()
        .flatten()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads the pinned update key (64 hex digits).
pub fn read_key(path: &Path) -> Result<VerifyingKey, UpdateError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        UpdateError::Io(std::io::Error::new(
            e.kind(),
            format!("the update key {}: {e}", path.display()),
        ))
    })?;
    crate::record::parse_hex(text.trim())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .ok_or_else(|| {
            UpdateError::Malformed(format!(
                "{} is not an ed25519 public key in hex",
                path.display()
            ))
        })
}

fn size_of(file: &mut File) -> std::io::Result<u64> {
    // A block device's length is where its end is; a file's the same.
    let size = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    Ok(size)
}

/// Writes `part` of the bundle to `path` through a temporary name, renamed once it checks.
fn write_file_part(
    reader: &mut impl Read,
    part: &sajili_record::update::Part,
    path: &Path,
) -> Result<(), UpdateError> {
    let partial = path.with_extension("new");
    let mut file = File::create(&partial)?;
    copy_part(reader, &mut file, part, |_| {})?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

/// The boot entry for `slot`, from the running one's options with the root swapped.
fn entry_for(layout: &Layout, slot: Slot, version: &str) -> Result<String, UpdateError> {
    let running = layout
        .entries_of(layout.running)?
        .into_iter()
        .next()
        .ok_or_else(|| UpdateError::Malformed("no boot entry for the running root".into()))?;
    let text = std::fs::read_to_string(&running)?;
    let options = text
        .lines()
        .find_map(|line| line.strip_prefix("options"))
        .map(str::trim)
        .ok_or_else(|| UpdateError::Malformed("the running entry has no options".into()))?
        .replace(
            &format!("sajili-root-{}", layout.running.letter()),
            &format!("sajili-root-{}", slot.letter()),
        );
    let letter = slot.letter();
    Ok(format!(
        "title    Sajili {version} (root {})\nversion  {version}\nsort-key sajili\nlinux    /sajili/{letter}/linux\ninitrd   /sajili/{letter}/initrd\noptions  {options}\n",
        letter.to_uppercase()
    ))
}

/// Installs `bundle` into the inactive slot. `progress` gets (bytes written, bytes in all).
pub fn install(
    bundle: &Path,
    key: &VerifyingKey,
    layout: &Layout,
    mut progress: impl FnMut(u64, u64),
) -> Result<(Manifest, Slot), UpdateError> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(bundle)?);
    let manifest = read_header(&mut reader, key)?;
    if !sajili_record::update::newer(&manifest.version, Some(&layout.running_version)) {
        return Err(UpdateError::NotNewer {
            offered: manifest.version.clone(),
            running: layout.running_version.clone(),
        });
    }
    let target = layout.running.other();
    let [root, linux, initrd] = [0, 1, 2].map(|i| manifest.parts[i].clone());
    let total = root.size + linux.size + initrd.size;
    let mut slot = OpenOptions::new()
        .write(true)
        .open(layout.slot_path(target))?;
    let capacity = size_of(&mut slot)?;
    if root.size > capacity {
        return Err(UpdateError::Malformed(format!(
            "the root is {} MiB; slot {} holds {} MiB",
            root.size >> 20,
            target.letter().to_uppercase(),
            capacity >> 20
        )));
    }
    // Nothing offers the inactive slot from here until the new entry is written.
    for old in layout.entries_of(target)? {
        std::fs::remove_file(old)?;
    }
    {
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut slot);
        copy_part(&mut reader, &mut writer, &root, |done| {
            progress(done, total)
        })?;
        writer.flush()?;
    }
    slot.sync_all()?;
    let dir = layout.esp.join("sajili").join(target.letter());
    std::fs::create_dir_all(&dir)?;
    write_file_part(&mut reader, &linux, &dir.join("linux"))?;
    progress(root.size + linux.size, total);
    write_file_part(&mut reader, &initrd, &dir.join("initrd"))?;
    progress(total, total);
    let entry = entry_for(layout, target, &manifest.version)?;
    let name = format!("sajili-{}+{TRIES}.conf", target.letter());
    let partial = layout.entries().join(format!("{name}.new"));
    let mut file = File::create(&partial)?;
    file.write_all(entry.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, layout.entries().join(&name))?;
    if let Ok(dir) = File::open(layout.entries()) {
        let _ = dir.sync_all();
    }
    Ok((manifest, target))
}

/// The outcome of installing `bundle`, as recorded for the kiosk.
pub fn run(bundle: &Path, key: &VerifyingKey, layout: &Layout, now: i64) -> Outcome {
    let started = std::time::Instant::now();
    let mut shown = 0;
    let result = install(bundle, key, layout, |done, total| {
        // Progress in the journal every tenth: an install takes a minute or two on a board.
        let tenth = done * 10 / total.max(1);
        if tenth > shown {
            shown = tenth;
            log::info!("installing the update: {}%", tenth * 10);
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok((manifest, slot)) => Outcome {
            version: Some(manifest.version),
            slot: Some(slot),
            refused: None,
            at: now,
            seconds,
        },
        Err(error) => Outcome {
            version: None,
            slot: None,
            refused: Some(error.to_string()),
            at: now,
            seconds,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    /// A device of files: an ESP with slot A's entry, two slot files of `slot_size` bytes.
    fn device(dir: &Path, slot_size: u64) -> Layout {
        let esp = dir.join("esp");
        std::fs::create_dir_all(esp.join("loader/entries")).unwrap();
        std::fs::write(
            esp.join("loader/entries/sajili-a.conf"),
            "title Sajili 0.1.0 (root A)\nversion 0.1.0\nlinux /sajili/a/linux\ninitrd /sajili/a/initrd\noptions  root=PARTLABEL=sajili-root-a rootfstype=erofs ro quiet\n",
        )
        .unwrap();
        let slots = ["slot-a", "slot-b"].map(|name| {
            let path = dir.join(name);
            File::create(&path).unwrap().set_len(slot_size).unwrap();
            path
        });
        Layout {
            esp,
            slots,
            running: Slot::A,
            running_version: "0.1.0".into(),
        }
    }

    fn bundle(dir: &Path, key: &SigningKey, version: &str) -> PathBuf {
        for (name, byte, len) in [
            ("root", 7u8, 300_000),
            ("linux", 8, 2000),
            ("initrd", 9, 3000),
        ] {
            std::fs::write(dir.join(name), vec![byte; len]).unwrap();
        }
        let out = dir.join(format!("{version}.sju"));
        make_bundle(
            key,
            version,
            0,
            [&dir.join("root"), &dir.join("linux"), &dir.join("initrd")],
            &out,
        )
        .unwrap();
        out
    }

    #[test]
    fn a_newer_signed_update_fills_the_inactive_slot_and_adds_one_entry_with_tries() {
        let dir = tempfile::tempdir().unwrap();
        let layout = device(dir.path(), 1 << 20);
        let key = SigningKey::from_bytes(&[1; 32]);
        let path = bundle(dir.path(), &key, "0.1.1");
        let (manifest, slot) = install(&path, &key.verifying_key(), &layout, |_, _| {}).unwrap();
        assert_eq!((manifest.version.as_str(), slot), ("0.1.1", Slot::B));
        let written = std::fs::read(&layout.slots[1]).unwrap();
        assert!(written[..300_000].iter().all(|b| *b == 7));
        assert!(
            std::fs::read(&layout.slots[0])
                .unwrap()
                .iter()
                .all(|b| *b == 0),
            "A untouched"
        );
        let entry =
            std::fs::read_to_string(layout.esp.join("loader/entries/sajili-b+3.conf")).unwrap();
        assert!(
            entry.contains("root=PARTLABEL=sajili-root-b rootfstype=erofs"),
            "{entry}"
        );
        assert!(entry.contains("version  0.1.1"), "{entry}");
        assert_eq!(
            std::fs::read(layout.esp.join("sajili/b/initrd")).unwrap(),
            vec![9; 3000]
        );
        // Again, the same version: refused, nothing changed.
        let again = Layout {
            running_version: "0.1.1".into(),
            ..layout.clone()
        };
        assert!(matches!(
            install(&path, &key.verifying_key(), &again, |_, _| {}),
            Err(UpdateError::NotNewer { .. })
        ));
    }

    #[test]
    fn a_downgrade_a_foreign_key_and_a_damaged_root_are_refused_and_no_entry_offers_them() {
        let dir = tempfile::tempdir().unwrap();
        let layout = device(dir.path(), 1 << 20);
        std::fs::write(layout.esp.join("loader/entries/sajili-b.conf"), "old B").unwrap();
        let key = SigningKey::from_bytes(&[1; 32]);
        let older = bundle(dir.path(), &key, "0.0.9");
        assert!(matches!(
            install(&older, &key.verifying_key(), &layout, |_, _| {}),
            Err(UpdateError::NotNewer { .. })
        ));
        assert!(
            layout.esp.join("loader/entries/sajili-b.conf").exists(),
            "untouched"
        );
        let foreign = bundle(dir.path(), &SigningKey::from_bytes(&[2; 32]), "0.2.0");
        assert!(matches!(
            install(&foreign, &key.verifying_key(), &layout, |_, _| {}),
            Err(UpdateError::BadSignature)
        ));
        let good = bundle(dir.path(), &key, "0.2.0");
        let mut bytes = std::fs::read(&good).unwrap();
        let at = bytes.len() - 10_000;
        bytes[at] ^= 0xff;
        std::fs::write(&good, &bytes).unwrap();
        assert!(matches!(
            install(&good, &key.verifying_key(), &layout, |_, _| {}),
            Err(UpdateError::PartMismatch(_))
        ));
        let entries: Vec<String> = std::fs::read_dir(layout.esp.join("loader/entries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries, ["sajili-a.conf"], "slot B is offered by no entry");
        // A root larger than the slot is refused before a byte is written.
        let small = device(&dir.path().join("small"), 1000);
        let fits_not = bundle(dir.path(), &key, "0.3.0");
        assert!(matches!(
            install(&fits_not, &key.verifying_key(), &small, |_, _| {}),
            Err(UpdateError::Malformed(_))
        ));
    }
}
