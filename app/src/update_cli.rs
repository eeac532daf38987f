//! `sajili update`: make a signed update bundle (the build), install one (the installer's
//! unit, or by hand from a USB stick).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sajili::update::{self, Layout, Outcome, Slot};

use crate::Failure;

/// `sajili update ...`.
#[derive(Debug, Subcommand)]
pub enum UpdateCommand {
    /// Make a signed update bundle from a root, kernel and initrd (image-build does this).
    Make {
        /// The update key's secret seed (32 bytes; keep it offline).
        #[arg(long)]
        key: PathBuf,
        /// The version it installs (`MAJOR.MINOR.PATCH`).
        #[arg(long)]
        version: String,
        /// The root filesystem image (erofs).
        #[arg(long)]
        root: PathBuf,
        /// The kernel.
        #[arg(long)]
        linux: PathBuf,
        /// The initrd.
        #[arg(long)]
        initrd: PathBuf,
        /// When it was built, Unix seconds (default: SOURCE_DATE_EPOCH, else now).
        #[arg(long, env = "SOURCE_DATE_EPOCH")]
        built_at: Option<i64>,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public half of an update key (hex), as the image pins it.
    PublicKey {
        /// The update key's secret seed.
        #[arg(long)]
        key: PathBuf,
    },
    /// Install a bundle into the inactive slot, with a boot entry that has tries. Exits 0 when
    /// installed (the installer's unit then reboots), 2 when refused.
    Install {
        /// The bundle (default: the one the uplink downloaded, in /var/lib/sajili/updates).
        bundle: Option<PathBuf>,
        /// The pinned update key (hex).
        #[arg(long, default_value = update::KEY_PATH)]
        key: PathBuf,
        /// Where the result is written for the kiosk (JSON), and a refused bundle set aside.
        #[arg(long, default_value = update::UPDATES_DIR)]
        updates: PathBuf,
        /// Test layouts: the EFI partition, the slots and the running slot and version.
        #[arg(long, hide = true, requires = "slots")]
        esp: Option<PathBuf>,
        #[arg(long, hide = true, num_args = 2, requires = "esp")]
        slots: Option<Vec<PathBuf>>,
        #[arg(long, hide = true, value_parser = ["a", "b"])]
        running: Option<String>,
        #[arg(long, hide = true)]
        running_version: Option<String>,
    },
}

/// Runs `sajili update`.
pub fn run(command: UpdateCommand) -> Result<(), Failure> {
    match command {
        UpdateCommand::PublicKey { key } => {
            let signing = read_seed(&key)?;
            println!(
                "{}",
                sajili::record::hex(signing.verifying_key().as_bytes())
            );
            Ok(())
        }
        UpdateCommand::Make {
            key,
            version,
            root,
            linux,
            initrd,
            built_at,
            out,
        } => {
            let signing = read_seed(&key)?;
            let built_at =
                built_at.unwrap_or_else(|| sajili::clock::Clock::now(&sajili::clock::SystemClock));
            let manifest =
                update::make_bundle(&signing, &version, built_at, [&root, &linux, &initrd], &out)
                    .map_err(|e| Failure::Input(e.to_string()))?;
            let size: u64 = manifest.parts.iter().map(|p| p.size).sum();
            println!(
                "update {version}: {} ({:.1} MiB of parts), signed by {}",
                out.display(),
                size as f64 / 1048576.0,
                sajili::record::hex(signing.verifying_key().as_bytes())
            );
            Ok(())
        }
        UpdateCommand::Install {
            bundle,
            key,
            updates,
            esp,
            slots,
            running,
            running_version,
        } => {
            let Some(bundle) = bundle.or_else(|| update::ready_bundle(&updates)) else {
                println!("no update is waiting in {}", updates.display());
                return Ok(());
            };
            let layout = match (esp, slots.and_then(|s| <[PathBuf; 2]>::try_from(s).ok())) {
                // Off the device, a test names the whole layout.
                (Some(esp), Some(slots)) => Layout {
                    esp,
                    slots,
                    running: if running.as_deref() == Some("b") {
                        Slot::B
                    } else {
                        Slot::A
                    },
                    running_version: running_version
                        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
                },
                _ => Layout::on_device().map_err(|error| {
                    // Recorded like a refusal, so the kiosk reports it and the registry hears
                    // why nothing was installed.
                    let why = format!("the device's boot layout: {error}");
                    record(
                        &updates,
                        &Outcome {
                            version: None,
                            slot: None,
                            refused: Some(why.clone()),
                            at: sajili::clock::Clock::now(&sajili::clock::SystemClock),
                            seconds: 0.0,
                        },
                    );
                    Failure::Failed(why)
                })?,
            };
            install(&bundle, &key, &updates, &layout)
        }
    }
}

pub fn read_seed(key: &Path) -> Result<ed25519_dalek::SigningKey, Failure> {
    let seed = zeroize::Zeroizing::new(
        std::fs::read(key)
            .map_err(|e| Failure::Input(format!("the key {}: {e}", key.display())))?,
    );
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| Failure::Input(format!("{} is not a 32-byte key seed", key.display())))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// Whether `path` is a block device (a USB stick the bundle was written onto).
fn is_block_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.file_type().is_block_device())
}

/// Whether a stick starts as an update bundle does; any other stick is none of ours.
fn carries_update(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .is_ok_and(|()| &magic == sajili_record::update::MAGIC)
}

/// Leaves the installer's result for the kiosk (which audits it, so the registry hears it).
fn record(updates: &Path, outcome: &Outcome) {
    let written = serde_json::to_vec(outcome)
        .map_err(std::io::Error::other)
        .and_then(|json| sajili::device::write_atomic(&updates.join(update::RESULT), &json, 0o640));
    if let Err(error) = written {
        log::warn!("could not record the update's result: {error}");
    }
}

fn install(bundle: &Path, key: &Path, updates: &Path, layout: &Layout) -> Result<(), Failure> {
    let now = sajili::clock::Clock::now(&sajili::clock::SystemClock);
    let stick = is_block_device(bundle);
    if stick && !carries_update(bundle) {
        println!("{} carries no update; left alone", bundle.display());
        // Not a success: the unit's reboot is for an installed update only.
        return Err(Failure::Input(format!(
            "{} carries no update",
            bundle.display()
        )));
    }
    let outcome = match update::read_key(key) {
        Ok(key) => update::run(bundle, &key, layout, now),
        Err(error) => Outcome {
            version: None,
            slot: None,
            refused: Some(error.to_string()),
            at: now,
            seconds: 0.0,
        },
    };
    record(updates, &outcome);
    match (&outcome.slot, &outcome.refused) {
        (Some(slot), _) => {
            log::info!(
                "update {} installed into slot {} in {:.1} s; it boots next, with {} tries",
                outcome.version.as_deref().unwrap_or("?"),
                slot.letter().to_uppercase(),
                outcome.seconds,
                update::TRIES
            );
            println!(
                "installed {} into slot {} in {:.1} s",
                outcome.version.as_deref().unwrap_or("?"),
                slot.letter().to_uppercase(),
                outcome.seconds
            );
            // Installed: a downloaded bundle has done its work (a stick is the staff's).
            if !stick {
                let _ = std::fs::remove_file(bundle);
            }
            Ok(())
        }
        (None, refused) => {
            let why = refused.clone().unwrap_or_default();
            log::warn!("update refused: {why}");
            // Set aside, so the path unit does not start the installer on it again, and the
            // uplink does not fetch it again.
            if bundle.starts_with(updates) {
                let _ = std::fs::rename(bundle, bundle.with_extension("refused"));
            }
            Err(Failure::Input(format!("update refused: {why}")))
        }
    }
}
