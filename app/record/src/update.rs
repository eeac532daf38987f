//! Signed software updates: one file carrying a new root filesystem, kernel and initrd for the
//! inactive A/B slot, a version, and a signature by the update key whose public half is
//! pinned in the image at build time.
//!
//! Layout: `SJU1`, the manifest's length (u32, big-endian), the manifest (JSON), an ed25519
//! signature (64 bytes) over everything before it, then each part's bytes in the manifest's
//! order. The manifest names each part's size and SHA-256, so the installer checks the
//! signature before it reads a byte of the parts, and each part's hash as it streams it: a
//! bundle cut short or altered is refused before anything boots from it.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::hex;

/// The first bytes of every update bundle.
pub const MAGIC: &[u8; 4] = b"SJU1";
/// The manifest format this build reads.
pub const UPDATE_FORMAT: u32 = 1;
/// The longest manifest read: a few parts' names, sizes and hashes fit in a page.
pub const MAX_MANIFEST: u32 = 16 * 1024;
/// The parts an update may carry, in the order they are written.
pub const PART_NAMES: [&str; 3] = ["root", "linux", "initrd"];
/// The largest part: a root slot is 768 MiB; 2 GiB leaves room for larger boards.
pub const MAX_PART: u64 = 2 << 30;

/// One part of an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// `root`, `linux` or `initrd`.
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// What an update says it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`UPDATE_FORMAT`].
    pub format: u32,
    /// The version it installs, `MAJOR.MINOR.PATCH`: only a higher one than the running one
    /// is installed.
    pub version: String,
    /// When it was built (the sources' time), Unix seconds.
    pub built_at: i64,
    /// The parts, in the order their bytes follow the signature.
    pub parts: Vec<Part>,
}

/// Why an update was refused. Nothing was written where the device boots from.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpdateError {
    /// Not an update bundle, or a manifest that cannot be read.
    Malformed(String),
    /// The signature is not the pinned update key's.
    BadSignature,
    /// Not newer than what runs.
    NotNewer {
        /// The bundle's version.
        offered: String,
        /// The running version.
        running: String,
    },
    /// A part's bytes are not the ones the manifest names (altered, or cut short).
    PartMismatch(String),
    /// Reading or writing failed.
    Io(io::Error),
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "not an update bundle: {why}"),
            Self::BadSignature => {
                f.write_str("the update is not signed by the update key this device was built with")
            }
            Self::NotNewer { offered, running } => write!(
                f,
                "the update is version {offered}, not newer than {running}, which runs: no downgrade"
            ),
            Self::PartMismatch(why) => {
                write!(f, "the update's contents are not what it signed: {why}")
            }
            Self::Io(error) => write!(f, "the update: {error}"),
        }
    }
}

impl std::error::Error for UpdateError {}

impl From<io::Error> for UpdateError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// A `MAJOR.MINOR.PATCH` version as numbers, for comparing; `None` if it is not one.
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut numbers = text.split('.').map(|n| {
        (!n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse::<u64>().ok())
            .flatten()
    });
    let version = (numbers.next()??, numbers.next()??, numbers.next()??);
    numbers.next().is_none().then_some(version)
}

/// Whether `offered` is a version above `running`. A running version that is not
/// `MAJOR.MINOR.PATCH` (a development build), or none known, is below any offered one; an
/// offered one that is not is never newer.
pub fn newer(offered: &str, running: Option<&str>) -> bool {
    match (parse_version(offered), running.and_then(parse_version)) {
        (Some(offered), Some(running)) => offered > running,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Whether `text` is a SHA-256 in lower-case hex, as bundles are named by (and so a safe file
/// name).
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Manifest {
    /// Checks what the signature cannot: the version's form, and the parts' names, order and
    /// sizes.
    pub fn check(&self) -> Result<(), UpdateError> {
        let bad = |why: &str| Err(UpdateError::Malformed(why.into()));
        if self.format != UPDATE_FORMAT {
            return bad("a manifest format this build does not read");
        }
        if parse_version(&self.version).is_none() {
            return bad("the version is not MAJOR.MINOR.PATCH");
        }
        let names: Vec<&str> = self.parts.iter().map(|p| p.name.as_str()).collect();
        if names != PART_NAMES {
            return bad("the parts are not root, linux and initrd, in that order");
        }
        for part in &self.parts {
            if part.size == 0 || part.size > MAX_PART {
                return bad("a part is empty or larger than 2 GiB");
            }
            if part.sha256.len() != 64 || !part.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad("a part's SHA-256 is not 64 hex digits");
            }
        }
        Ok(())
    }

    /// The part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// Reads a bundle's header from `reader` and checks the signature against `key`, then the
/// manifest. The reader is left at the first byte of the first part.
pub fn read_header(reader: &mut impl Read, key: &VerifyingKey) -> Result<Manifest, UpdateError> {
    let mut head = [0u8; 8];
    reader
        .read_exact(&mut head)
        .map_err(|_| UpdateError::Malformed("shorter than a header".into()))?;
    if &head[..4] != MAGIC {
        return Err(UpdateError::Malformed("it does not begin with SJU1".into()));
    }
    let length = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    if length > MAX_MANIFEST {
        return Err(UpdateError::Malformed(format!(
            "a manifest of {length} bytes (at most {MAX_MANIFEST})"
        )));
    }
    let mut manifest = vec![0u8; length as usize];
    let mut signature = [0u8; 64];
    reader
        .read_exact(&mut manifest)
        .and_then(|()| reader.read_exact(&mut signature))
        .map_err(|_| UpdateError::Malformed("cut short in its header".into()))?;
    let mut signed = head.to_vec();
    signed.extend_from_slice(&manifest);
    key.verify(&signed, &Signature::from_bytes(&signature))
        .map_err(|_| UpdateError::BadSignature)?;
    let manifest: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| UpdateError::Malformed(format!("the manifest: {e}")))?;
    manifest.check()?;
    Ok(manifest)
}

/// Copies the part `part` from `reader` to `writer`, hashing as it goes; refuses it (after
/// copying: the caller writes somewhere nothing boots from until it returns) if the bytes are
/// not the ones the manifest names. `progress` gets the bytes copied so far.
pub fn copy_part(
    reader: &mut impl Read,
    writer: &mut impl Write,
    part: &Part,
    mut progress: impl FnMut(u64),
) -> Result<(), UpdateError> {
    let mut hasher = Sha256::new();
    let mut left = part.size;
    let mut buffer = vec![0u8; 1 << 20];
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let read = reader.read(&mut buffer[..want])?;
        if read == 0 {
            return Err(UpdateError::PartMismatch(format!(
                "{} is cut short ({} of {} bytes)",
                part.name,
                part.size - left,
                part.size
            )));
        }
        hasher.update(&buffer[..read]);
        writer.write_all(&buffer[..read])?;
        left -= read as u64;
        progress(part.size - left);
    }
    if hex(&hasher.finalize()) != part.sha256.to_ascii_lowercase() {
        return Err(UpdateError::PartMismatch(format!(
            "{} does not have the SHA-256 the manifest names",
            part.name
        )));
    }
    Ok(())
}

/// The length and SHA-256 (hex) of everything `reader` yields.
pub fn hash_all(reader: &mut impl Read) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            return Ok((size, hex(&hasher.finalize())));
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
}

/// Makes a bundle at `out` from the files of `parts` (root, linux, initrd), signed with `key`.
pub fn make_bundle(
    key: &SigningKey,
    version: &str,
    built_at: i64,
    parts: [&Path; 3],
    out: &Path,
) -> Result<Manifest, UpdateError> {
    let mut described = Vec::new();
    for (name, path) in PART_NAMES.iter().zip(parts) {
        let mut file = std::fs::File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let (size, sha256) = hash_all(&mut file)?;
        described.push(Part {
            name: (*name).to_string(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        format: UPDATE_FORMAT,
        version: version.to_string(),
        built_at,
        parts: described,
    };
    manifest.check()?;
    let json = serde_json::to_vec(&manifest).map_err(|e| UpdateError::Malformed(e.to_string()))?;
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&(json.len() as u32).to_be_bytes());
    header.extend_from_slice(&json);
    let signature = key.sign(&header).to_bytes();
    let partial = out.with_extension("partial");
    let mut writer = io::BufWriter::new(std::fs::File::create(&partial)?);
    writer.write_all(&header)?;
    writer.write_all(&signature)?;
    for path in parts {
        io::copy(&mut std::fs::File::open(path)?, &mut writer)?;
    }
    writer
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    std::fs::rename(&partial, out)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(dir: &Path, key: &SigningKey, version: &str) -> std::path::PathBuf {
        let names = ["root", "linux", "initrd"];
        for (n, name) in names.iter().enumerate() {
            std::fs::write(dir.join(name), vec![n as u8 + 1; 1000 * (n + 1)]).unwrap();
        }
        let out = dir.join(format!("{version}.sju"));
        make_bundle(
            key,
            version,
            1_800_000_000,
            [&dir.join("root"), &dir.join("linux"), &dir.join("initrd")],
            &out,
        )
        .unwrap();
        out
    }

    #[test]
    fn a_bundle_reads_back_part_by_part_under_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[4; 32]);
        let path = bundle(dir.path(), &key, "0.2.0");
        let bytes = std::fs::read(&path).unwrap();
        let mut reader = &bytes[..];
        let manifest = read_header(&mut reader, &key.verifying_key()).unwrap();
        assert_eq!(manifest.version, "0.2.0");
        for part in &manifest.parts {
            let mut out = Vec::new();
            copy_part(&mut reader, &mut out, part, |_| {}).unwrap();
            assert_eq!(out.len() as u64, part.size);
        }
        assert!(reader.is_empty());
        let other = SigningKey::from_bytes(&[5; 32]).verifying_key();
        assert!(matches!(
            read_header(&mut &bytes[..], &other),
            Err(UpdateError::BadSignature)
        ));
    }

    #[test]
    fn an_altered_or_cut_bundle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[4; 32]);
        let bytes = std::fs::read(bundle(dir.path(), &key, "0.2.0")).unwrap();
        // A byte of the manifest (the version, say) changed: the signature no longer holds.
        let mut altered = bytes.clone();
        altered[20] ^= 1;
        assert!(matches!(
            read_header(&mut &altered[..], &key.verifying_key()),
            Err(UpdateError::BadSignature | UpdateError::Malformed(_))
        ));
        // A byte of the root changed, or the file cut: the part does not match.
        let mut reader = &bytes[..];
        let manifest = read_header(&mut reader, &key.verifying_key()).unwrap();
        let header = bytes.len() - reader.len();
        let mut altered = bytes.clone();
        altered[header + 10] ^= 1;
        let mut reader = &altered[header..];
        assert!(matches!(
            copy_part(&mut reader, &mut io::sink(), &manifest.parts[0], |_| {}),
            Err(UpdateError::PartMismatch(_))
        ));
        let mut cut = &bytes[header..header + 500];
        assert!(matches!(
            copy_part(&mut cut, &mut io::sink(), &manifest.parts[0], |_| {}),
            Err(UpdateError::PartMismatch(_))
        ));
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(parse_version("0.10.0") > parse_version("0.9.9"));
        assert_eq!(parse_version("1.2.3"), Some((1, 2, 3)));
        for bad in ["1.2", "1.2.3.4", "1.a.3", "", "1..3", "-1.2.3"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}
