//! The device's identity on disk: its data dir, its keys, and the registry trust it pins.
//!
//! ```text
//! DATA/
//!   kiosk.redb               the store (journal, outbox, chain, receipts, audit, settings)
//!   trust-bundle.json        the registry's trust bundle, pinned at init, 0600 (may hold a token)
//!   keys/                    0700
//!     record-signing.key     ed25519 seed, 32 bytes, 0600; made here, never leaves
//!     record-signing.pub     its public key, hex, for provisioning
//!     journal.key            age identity that encrypts drafts in the journal, 0600;
//!                            replaced whenever the journal empties
//!   spool/                   hand-off to the uplink (see `crate::spool`)
//!   uplink/                  the uplink's own: TLS key and certificate (see
//!                            `crate::uplink::identity`)
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::Mutex;

use age::secrecy::ExposeSecret;
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

pub use sajili_record::bundle::signed::{self, ProvisioningError};
pub use sajili_record::bundle::{BUNDLE_FORMAT, BundleError, TrustBundle};
pub use sajili_record::files::{ensure_dir, read_untrusted, write_atomic, write_replaceable};

use crate::clock::Clock;
use crate::record::{DeviceId, Sealer, device_id_for, hex};
use crate::store::{AuditEvent, Store, StoreError};

/// Paths inside a data dir.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data dir at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The data dir itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store file.
    pub fn store_path(&self) -> PathBuf {
        self.root.join("kiosk.redb")
    }

    /// The pinned trust bundle.
    pub fn bundle_path(&self) -> PathBuf {
        self.root.join("trust-bundle.json")
    }

    /// The directory of key files (0700).
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The record-signing key (0600).
    pub fn signing_key_path(&self) -> PathBuf {
        self.keys_dir().join("record-signing.key")
    }

    /// The record-signing public key, hex.
    pub fn verifying_key_path(&self) -> PathBuf {
        self.keys_dir().join("record-signing.pub")
    }

    /// The journal key (0600).
    pub fn journal_key_path(&self) -> PathBuf {
        self.keys_dir().join("journal.key")
    }
}

/// Why the device could not be initialised or opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeviceError {
    /// `init` on a data dir that already has a store: refused, so no key is ever replaced.
    AlreadyInitialised {
        /// The data dir.
        root: PathBuf,
    },
    /// The trust bundle file could not be read.
    ReadBundle {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The provisioning bundle was refused: unsigned, signed by another key, or malformed.
    Provisioning {
        /// The file.
        path: PathBuf,
        /// Why.
        error: ProvisioningError,
    },
    /// The trust bundle is not valid.
    Bundle {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: BundleError,
    },
    /// The signing key file is missing or damaged.
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key does not belong to this store (keys swapped between devices).
    DeviceMismatch {
        /// Device id of the key file.
        key: String,
        /// Device id recorded in the store.
        store: String,
    },
    /// A file could not be written.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyInitialised { root } => write!(
                f,
                "{} is already initialised; its keys are kept (use another data dir for a new device)",
                root.display()
            ),
            Self::ReadBundle { path, source } => {
                write!(
                    f,
                    "cannot read the trust bundle {}: {source}",
                    path.display()
                )
            }
            Self::Bundle { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Provisioning { path, error } => write!(f, "{}: {error}", path.display()),
            Self::Key { path, reason } => write!(f, "signing key {}: {reason}", path.display()),
            Self::DeviceMismatch { key, store } => write!(
                f,
                "the signing key belongs to device {key}, but this store is device {store}"
            ),
            Self::Io { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for DeviceError {}

impl From<StoreError> for DeviceError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The new device's id.
    pub device_id: DeviceId,
    /// Its record-signing public key, hex.
    pub verifying_key: String,
}

fn read_bundle(path: &Path) -> Result<(Vec<u8>, TrustBundle), DeviceError> {
    let json = std::fs::read(path).map_err(|source| DeviceError::ReadBundle {
        path: path.to_path_buf(),
        source,
    })?;
    parse_bundle(path, json)
}

fn parse_bundle(path: &Path, json: Vec<u8>) -> Result<(Vec<u8>, TrustBundle), DeviceError> {
    let bundle = TrustBundle::parse(&json).map_err(|error| DeviceError::Bundle {
        path: path.to_path_buf(),
        error,
    })?;
    Ok((json, bundle))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DeviceError + '_ {
    move |source| DeviceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads what field staff provisioned: with the image's provisioning `key`, only a bundle it
/// signed; without one (a development build, a test), a plain trust bundle too.
fn read_provisioning(
    path: &Path,
    key: Option<&VerifyingKey>,
) -> Result<(Vec<u8>, TrustBundle), DeviceError> {
    let bytes = std::fs::read(path).map_err(|source| DeviceError::ReadBundle {
        path: path.to_path_buf(),
        source,
    })?;
    let refused = |error| DeviceError::Provisioning {
        path: path.to_path_buf(),
        error,
    };
    match key {
        Some(key) => signed::open(&bytes, key).map_err(refused),
        None if signed::is_signed(&bytes) => {
            log::warn!("no provisioning key in this build: the bundle's signature is not checked");
            signed::open_unchecked(&bytes).map_err(refused)
        }
        None => parse_bundle(path, bytes),
    }
}

/// Initialises a device in `data`: generates its keys here, pins the trust bundle at
/// `bundle_path`, creates the store. See [`init_provisioned`].
pub fn init(
    data: &DataDir,
    bundle_path: &Path,
    clock: &dyn Clock,
) -> Result<InitReport, DeviceError> {
    init_provisioned(data, bundle_path, None, clock)
}

/// Initialises a device in `data` from the provisioning bundle at `bundle_path`, which must be
/// signed by `provisioning_key` when one is given (the image's): generates its keys here, pins
/// the trust bundle, creates the store.
///
/// Checks the bundle before writing anything. Refuses a data dir that already has a store.
/// The store is made last, so an `init` cut short by a power cut can simply be run again
/// (an existing key file is kept, not regenerated).
pub fn init_provisioned(
    data: &DataDir,
    bundle_path: &Path,
    provisioning_key: Option<&VerifyingKey>,
    clock: &dyn Clock,
) -> Result<InitReport, DeviceError> {
    let store_path = data.store_path();
    if store_path.exists() {
        return Err(DeviceError::AlreadyInitialised {
            root: data.root().to_path_buf(),
        });
    }
    let (bundle_json, _) = read_provisioning(bundle_path, provisioning_key)?;
    ensure_dir(data.root(), 0o750).map_err(io_error(data.root()))?;
    let keys = data.keys_dir();
    ensure_dir(&keys, 0o700).map_err(io_error(&keys))?;

    let key_path = data.signing_key_path();
    let signing_key = if key_path.exists() {
        read_signing_key(&key_path)?
    } else {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice()).map_err(|e| DeviceError::Key {
            path: key_path.clone(),
            reason: format!("no randomness for a new key: {e}"),
        })?;
        write_atomic(&key_path, seed.as_slice(), 0o600).map_err(io_error(&key_path))?;
        SigningKey::from_bytes(&seed)
    };
    let verifying_key = hex(signing_key.verifying_key().as_bytes());
    let public_path = data.verifying_key_path();
    write_atomic(&public_path, format!("{verifying_key}\n").as_bytes(), 0o644)
        .map_err(io_error(&public_path))?;
    let pinned = data.bundle_path();
    // 0600: a bundle may carry a one-time enrolment token, which is a secret.
    write_atomic(&pinned, &bundle_json, 0o600).map_err(io_error(&pinned))?;
    write_journal_key(data, &age::x25519::Identity::generate())?;

    let device_id = device_id_for(&signing_key.verifying_key());
    let store = Store::create(&store_path)?;
    store.set_device_id(device_id.as_str())?;
    store.audit(&AuditEvent {
        at: clock.now(),
        actor: "system".into(),
        action: "device.initialised".into(),
        subject: device_id.to_string(),
    })?;
    Ok(InitReport {
        device_id,
        verifying_key,
    })
}

fn write_journal_key(data: &DataDir, key: &age::x25519::Identity) -> Result<(), DeviceError> {
    let path = data.journal_key_path();
    let text = key.to_string();
    write_atomic(&path, text.expose_secret().as_bytes(), 0o600).map_err(io_error(&path))
}

fn read_journal_key(path: &Path) -> Result<age::x25519::Identity, DeviceError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| DeviceError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?);
    text.trim().parse().map_err(|_| DeviceError::Key {
        path: path.to_path_buf(),
        reason: "not an age identity".into(),
    })
}

fn read_signing_key(path: &Path) -> Result<SigningKey, DeviceError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| DeviceError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?);
    let seed: Zeroizing<[u8; 32]> =
        Zeroizing::new(bytes.as_slice().try_into().map_err(|_| DeviceError::Key {
            path: path.to_path_buf(),
            reason: format!("{} bytes where 32 are expected", bytes.len()),
        })?);
    Ok(SigningKey::from_bytes(&seed))
}

/// An initialised device, opened: its store, its sealer, the registry trust it pinned.
pub struct Device {
    /// Its data dir.
    pub data: DataDir,
    /// Its store.
    pub store: Store,
    /// Seals records with its key to the pinned registry.
    pub sealer: Sealer,
    /// The pinned trust bundle.
    pub bundle: TrustBundle,
    /// Encrypts drafts in the journal (see [`Device::rotate_journal_key`]).
    journal_key: Mutex<age::x25519::Identity>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("data", &self.data)
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// The current journal key.
    pub fn journal_key(&self) -> age::x25519::Identity {
        match self.journal_key.lock() {
            Ok(key) => key.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the journal key with a new one, on disk and here.
    ///
    /// redb never overwrites in place, so a removed draft lingers in free pages of the file;
    /// drafts are encrypted, and once the key is replaced those leftovers cannot be read.
    /// Only call this when the journal is empty: a draft under the old key would be lost.
    pub fn rotate_journal_key(&self) -> Result<(), DeviceError> {
        let key = age::x25519::Identity::generate();
        write_journal_key(&self.data, &key)?;
        match self.journal_key.lock() {
            Ok(mut current) => *current = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
        Ok(())
    }
}

/// A device's keys and pinned trust, without its store: what provisioning needs, and all it
/// may take while the kiosk holds the store (redb lets one process open it).
pub struct DeviceKeys {
    /// Its data dir.
    pub data: DataDir,
    /// Seals records with its key to the pinned registry (and proves the TLS key is its own).
    pub sealer: Sealer,
    /// The pinned trust bundle.
    pub bundle: TrustBundle,
}

/// Reads the keys and trust bundle of the device initialised in `data`, leaving its store
/// alone.
pub fn open_keys(data: &DataDir) -> Result<DeviceKeys, DeviceError> {
    let (_, bundle) = read_bundle(&data.bundle_path())?;
    let signing_key = read_signing_key(&data.signing_key_path())?;
    let recipient = bundle.recipient().map_err(|error| DeviceError::Bundle {
        path: data.bundle_path(),
        error,
    })?;
    Ok(DeviceKeys {
        data: data.clone(),
        sealer: Sealer::new(signing_key, recipient),
        bundle,
    })
}

/// Opens the device initialised in `data`.
///
/// Read-only apart from redb's own crash recovery. A data dir without a store is
/// [`StoreError::NotInitialised`].
pub fn open(data: &DataDir) -> Result<Device, DeviceError> {
    let store = Store::open(&data.store_path())?;
    let DeviceKeys { sealer, bundle, .. } = open_keys(data)?;
    let recorded = store.device_id()?.unwrap_or_default();
    if recorded != sealer.device_id().as_str() {
        return Err(DeviceError::DeviceMismatch {
            key: sealer.device_id().to_string(),
            store: recorded,
        });
    }
    let journal_key = Mutex::new(read_journal_key(&data.journal_key_path())?);
    Ok(Device {
        data: data.clone(),
        store,
        sealer,
        bundle,
        journal_key,
    })
}
