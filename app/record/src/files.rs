//! Writing files that must survive a power cut whole, and secrets that only the owner reads;
//! reading files another process may have planted (the spool) without following links,
//! blocking on a FIFO or reading without end.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

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
///
/// The mode is set on the directory opened without following a link (`fchmod` on an
/// `O_NOFOLLOW | O_DIRECTORY` descriptor): a symbolic link planted under the name (say, the
/// spool's `receipts` pointing at the keys) is refused, never used to open up its target.
pub fn ensure_dir(path: &Path, mode: u32) -> io::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(mode).create(path) {
        Err(error) if error.kind() != io::ErrorKind::AlreadyExists => return Err(error),
        _ => {}
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let directory = rustix::fs::open(path, flags, Mode::empty()).map_err(|errno| {
        let error = io::Error::from(errno);
        if matches!(
            error.raw_os_error(),
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error()
                || code == rustix::io::Errno::NOTDIR.raw_os_error()
        ) {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is a symbolic link or not a directory; its mode was left alone",
                    path.display()
                ),
            )
        } else {
            error
        }
    })?;
    rustix::fs::fchmod(&directory, Mode::from_raw_mode(mode))?;
    Ok(())
}

/// Reads the regular file at `path` whole, if it is there, refusing anything another process
/// could turn against the reader: a symbolic link (not followed), a FIFO, device or directory
/// (opened without blocking, then refused by type), or a file longer than `cap` bytes (refused
/// by its size before a byte is read, and never read past `cap` should it grow meanwhile).
/// `what` names the kind of file in the error.
pub fn read_untrusted(path: &Path, cap: u64, what: &str) -> io::Result<Option<Vec<u8>>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let descriptor = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(descriptor) => descriptor,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => {
            return Err(refused(format!("{what} is a symbolic link, not followed")));
        }
        Err(errno) => return Err(errno.into()),
    };
    let stat = rustix::fs::fstat(&descriptor)?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(refused(format!("{what} is not a regular file ({kind:?})")));
    }
    let size = u64::try_from(stat.st_size).unwrap_or(u64::MAX);
    if size > cap {
        return Err(refused(format!(
            "{what} is {size} bytes, more than the {cap} a real one can be"
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    File::from(descriptor)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(refused(format!(
            "{what} grew past {cap} bytes while it was read"
        )));
    }
    Ok(Some(bytes))
}

/// An error for a file refused by [`read_untrusted`] (kind `InvalidData`: the file is there
/// but is not what it should be).
fn refused(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn untrusted_reads_refuse_links_fifos_devices_and_oversized_files() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let good = dir.path().join("good");
        fs::write(&good, b"12345")?;
        assert_eq!(read_untrusted(&good, 5, "x")?, Some(b"12345".to_vec()));
        assert_eq!(read_untrusted(&dir.path().join("missing"), 5, "x")?, None);
        let big = read_untrusted(&good, 4, "the test file").map(|_| ());
        assert!(big.is_err_and(|e| e.to_string().contains("5 bytes")));

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&good, &link)?;
        let linked = read_untrusted(&link, 5, "x").map(|_| ());
        assert!(linked.is_err_and(|e| e.to_string().contains("symbolic link")));

        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )?;
        let piped = read_untrusted(&fifo, 5, "x").map(|_| ());
        assert!(piped.is_err_and(|e| e.to_string().contains("not a regular file")));

        let directory = read_untrusted(dir.path(), 5, "x").map(|_| ());
        assert!(directory.is_err_and(|e| e.to_string().contains("not a regular file")));
        Ok(())
    }

    #[test]
    fn ensure_dir_never_changes_a_mode_through_a_link() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("keys");
        fs::create_dir(&target)?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o700))?;
        let link = dir.path().join("receipts");
        std::os::unix::fs::symlink(&target, &link)?;
        assert!(ensure_dir(&link, 0o770).is_err());
        assert_eq!(fs::metadata(&target)?.permissions().mode() & 0o777, 0o700);

        let fresh = dir.path().join("a/b");
        ensure_dir(&fresh, 0o750)?;
        assert_eq!(fs::metadata(&fresh)?.permissions().mode() & 0o777, 0o750);
        fs::set_permissions(&fresh, fs::Permissions::from_mode(0o777))?;
        ensure_dir(&fresh, 0o750)?;
        assert_eq!(fs::metadata(&fresh)?.permissions().mode() & 0o777, 0o750);
        Ok(())
    }
}
