//! Downloading updates: the uplink asks for the newest update published to this device above
//! the version it runs, downloads it into the update directory (resuming a cut download where
//! it stopped, with a Range request), checks the whole file's SHA-256 against the offer, and
//! renames it `<sha256>.sju` for the installer's unit, which checks the signature. The uplink
//! never installs anything.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use super::client::{CallError, Registry};
use crate::update::{READY_EXTENSION, last_outcome, ready_bundle};
use sajili_record::update::{is_sha256_hex, newer};

/// What [`fetch`] did, in words, for the log; `None` when there was nothing to do.
pub fn fetch(registry: &Registry, dir: &Path) -> Result<Option<String>, CallError> {
    let running = env!("CARGO_PKG_VERSION");
    // A device without an update directory (a development set-up) takes no updates.
    if !dir.is_dir() {
        return Ok(None);
    }
    let Some(offer) = registry.update_offer(running)? else {
        return Ok(None);
    };
    let refused = dir.join(format!("{}.refused", offer.sha256));
    if !newer(&offer.version, Some(running)) || !is_sha256_hex(&offer.sha256) || refused.exists() {
        return Ok(None);
    }
    // Installed and waiting for its reboot, or downloaded and waiting for the installer.
    if ready_bundle(dir).is_some() || installed(dir, &offer.version) {
        return Ok(None);
    }
    let partial = dir.join(format!("{}.part", offer.sha256));
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .map_err(|e| CallError::BadAnswer(format!("{}: {e}", partial.display())))?;
    let held = file.metadata().map(|m| m.len()).unwrap_or(0);
    if held < offer.size {
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        let result = registry.download_update(&offer.sha256, held, &mut writer);
        // What arrived before a cut is kept: the next pass asks for the rest.
        let flushed = writer.flush();
        result?;
        flushed.map_err(|e| CallError::BadAnswer(format!("{}: {e}", partial.display())))?;
    }
    let _ = file.sync_all();
    let (size, sha256) = hash_file(&partial)
        .map_err(|e| CallError::BadAnswer(format!("{}: {e}", partial.display())))?;
    if size != offer.size || sha256 != offer.sha256 {
        let _ = std::fs::remove_file(&partial);
        return Ok(Some(format!(
            "update {} downloaded with other bytes than offered ({size} bytes); dropped, to be fetched again",
            offer.version
        )));
    }
    std::fs::rename(&partial, dir.join(format!("{sha256}.{READY_EXTENSION}")))
        .map_err(|e| CallError::BadAnswer(format!("{}: {e}", partial.display())))?;
    Ok(Some(format!(
        "update {} downloaded ({:.1} MiB{}); the installer takes it from here",
        offer.version,
        size as f64 / 1048576.0,
        if held > 0 {
            format!(", resumed at {:.1} MiB", held as f64 / 1048576.0)
        } else {
            String::new()
        }
    )))
}

/// Whether the installer's last result is `version` installed (a reboot away from running).
fn installed(dir: &Path, version: &str) -> bool {
    last_outcome(dir).is_some_and(|outcome| {
        outcome.slot.is_some() && outcome.version.as_deref() == Some(version)
    })
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    sajili_record::update::hash_all(&mut std::fs::File::open(path)?)
}
