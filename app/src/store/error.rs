//! Errors of the store, sorted by who must act: the operator (not initialised, in use), the
//! disk (corrupted, I/O), or us (anything else redb reports).

use std::fmt;
use std::path::PathBuf;

/// Why a store operation failed. Every failed write leaves the store as it was before it.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// No database at the path: the data dir was never initialised (`sajili init`).
    NotInitialised {
        /// Where the database was looked for.
        path: PathBuf,
    },
    /// A database already exists where a new one was to be made.
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Another process has the database open.
    InUse {
        /// The database file.
        path: PathBuf,
    },
    /// The file is damaged (altered outside Sajili, or a failing disk). Left untouched.
    Corrupted {
        /// The database file.
        path: PathBuf,
        /// What redb found.
        detail: String,
    },
    /// The operating system refused a read or write.
    Io {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A value in the store does not decode (written by a newer build, or damaged).
    BadValue {
        /// Which table or setting.
        what: &'static str,
    },
    /// Any other database failure (a bug in Sajili or redb).
    Database(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInitialised { path } => write!(
                f,
                "no store at {}: this data dir is not initialised (run `sajili init`)",
                path.display()
            ),
            Self::AlreadyExists { path } => {
                write!(f, "a store already exists at {}", path.display())
            }
            Self::InUse { path } => write!(
                f,
                "the store {} is in use by another Sajili process; try again when it stops",
                path.display()
            ),
            Self::Corrupted { path, detail } => write!(
                f,
                "the store {} is corrupted ({detail}); it was left untouched: restore it from a \
                 backup or send the device for service",
                path.display()
            ),
            Self::Io { path, source } => write!(f, "cannot use {}: {source}", path.display()),
            Self::BadValue { what } => write!(f, "the store holds an unreadable {what}"),
            Self::Database(detail) => write!(f, "database error: {detail}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl StoreError {
    /// Classifies any redb error for the database at `path`.
    pub(crate) fn from_redb(path: &std::path::Path, error: impl Into<redb::Error>) -> Self {
        match error.into() {
            redb::Error::Corrupted(detail) => Self::Corrupted {
                path: path.to_path_buf(),
                detail,
            },
            // redb reports a wrong magic number or a malformed header as invalid data.
            redb::Error::Io(source) if source.kind() == std::io::ErrorKind::InvalidData => {
                Self::Corrupted {
                    path: path.to_path_buf(),
                    detail: source.to_string(),
                }
            }
            redb::Error::Io(source) => Self::Io {
                path: path.to_path_buf(),
                source,
            },
            redb::Error::DatabaseAlreadyOpen => Self::InUse {
                path: path.to_path_buf(),
            },
            other => Self::Database(other.to_string()),
        }
    }
}
