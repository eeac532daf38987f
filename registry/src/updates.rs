//! Signed software updates at the registry: the back office publishes a bundle (checked
//! against the update key first: nothing unsigned is ever offered) to every device, a centre's
//! or one device; nodes offer each device the newest one published to it and serve the bundle
//! with Range requests from their update directory (`serve --updates DIR`), where `publish`
//! puts it under its SHA-256. Several nodes share the directory (or each gets a copy).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ed25519_dalek::VerifyingKey;
use sajili_record::record::parse_hex;
use sajili_record::update::{hash_all, newer, parse_version, read_header};

use crate::store::{PublishedUpdate, Store, UpdateTarget};

/// Parses `all`, `centre:ID` or `device:ID`.
pub fn parse_target(text: &str) -> std::result::Result<UpdateTarget, String> {
    match text.split_once(':') {
        None if text == "all" => Ok(UpdateTarget::All),
        Some(("centre", id)) if !id.is_empty() => Ok(UpdateTarget::Centre(id.to_string())),
        Some(("device", id)) if !id.is_empty() => Ok(UpdateTarget::Device(id.to_string())),
        _ => Err(format!("{text:?}: give all, centre:ID or device:ID")),
    }
}

/// Reads the update key's public half (hex), as image-build writes it beside the image.
pub fn read_update_key(path: &Path) -> Result<VerifyingKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    parse_hex(text.trim())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .with_context(|| format!("{} is not an ed25519 public key in hex", path.display()))
}

/// The file a bundle is served from.
pub fn bundle_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(format!("{sha256}.sju"))
}

/// Checks `bundle` against the update key, copies it into `dir` under its SHA-256 and
/// publishes it to `target`.
pub fn publish(
    store: &dyn Store,
    key: &VerifyingKey,
    bundle: &Path,
    dir: &Path,
    target: UpdateTarget,
) -> Result<PublishedUpdate> {
    let mut file =
        std::fs::File::open(bundle).with_context(|| format!("open {}", bundle.display()))?;
    let manifest = read_header(&mut std::io::BufReader::new(&mut file), key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", bundle.display()))?;
    let (size, sha256) = hash_all(&mut std::fs::File::open(bundle)?)?;
    let expected: u64 = manifest.parts.iter().map(|p| p.size).sum();
    if size < expected {
        bail!(
            "{} is cut short: its parts need {expected} bytes",
            bundle.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("make {}", dir.display()))?;
    let target_path = bundle_path(dir, &sha256);
    if !target_path.exists() {
        let partial = target_path.with_extension("partial");
        std::fs::copy(bundle, &partial).with_context(|| format!("copy into {}", dir.display()))?;
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, &target_path)?;
    }
    let update = PublishedUpdate {
        version: manifest.version,
        sha256,
        size,
        target,
        published_at: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    store.publish_update(&update)?;
    Ok(update)
}

/// Whether `update` is published to `device` (of `centre`), and this node holds it.
pub fn published_to(
    update: &PublishedUpdate,
    device: &str,
    centre: Option<&str>,
    dir: &Path,
) -> bool {
    let targeted = match &update.target {
        UpdateTarget::All => true,
        UpdateTarget::Centre(id) => centre == Some(id.as_str()),
        UpdateTarget::Device(id) => id == device,
    };
    targeted && bundle_path(dir, &update.sha256).is_file()
}

/// The newest update published to `device` (by itself, its centre, or all) above `running`,
/// whose bundle this node holds.
pub fn offer_for(
    published: &[PublishedUpdate],
    device: &str,
    centre: Option<&str>,
    running: Option<&str>,
    dir: &Path,
) -> Option<PublishedUpdate> {
    published
        .iter()
        .filter(|update| published_to(update, device, centre, dir))
        .filter(|update| newer(&update.version, running))
        .max_by_key(|update| parse_version(&update.version))
        .cloned()
}

/// Prints what is published.
pub fn list(store: &dyn Store) -> Result<()> {
    let updates = store.updates()?;
    if updates.is_empty() {
        println!("No update is published.");
    }
    for update in updates {
        let to = match &update.target {
            UpdateTarget::All => "every device".to_string(),
            UpdateTarget::Centre(id) => format!("centre {id}"),
            UpdateTarget::Device(id) => format!("device {id}"),
        };
        println!(
            "{:<10} {:.1} MiB  {}  to {to}  (published {})",
            update.version,
            update.size as f64 / 1048576.0,
            &update.sha256[..16],
            crate::fleet::format_time(update.published_at)
        );
    }
    Ok(())
}
