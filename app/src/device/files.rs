//! Writing files that must survive a power cut whole, and secrets that only the owner reads.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the directory.
/// `mode` is the file's permission bits (0o600 for secrets). A crash leaves the old file or the
/// new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_whole(path, bytes, mode, true)
}

/// Like [`write_atomic`], without waiting for the disk: a crash may lose the file (or leave it
/// empty), never leave a part of it under its name. For files that can be had again (a
/// receipt the registry still holds).
pub fn write_replaceable(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_whole(path, bytes, mode, false)
}

fn write_whole(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> std::io::Result<()> {
    // A bare file name has an empty parent: that is the current directory.
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = directory.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&temporary);
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
    }
    fs::rename(&temporary, path)?;
    if durable {
        File::open(directory)?.sync_all()?;
    }
    Ok(())
}

/// Creates `path` (and parents) as a directory with `mode`, or tightens an existing one.
pub fn ensure_dir(path: &Path, mode: u32) -> std::io::Result<()> {
    fs::create_dir_all(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
