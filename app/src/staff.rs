//! Operators and supervisors: staff numbers with a PIN, stored on the device as Argon2id
//! hashes, so a stolen store file does not give the PINs away.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs assisted enrolments.
    Operator,
    /// Approves enrolments and finger exceptions; may also operate.
    Supervisor,
}

#[derive(Serialize, Deserialize)]
struct Credential {
    role: Role,
    /// PHC string: algorithm, parameters, salt and hash.
    pin_hash: String,
}

/// Why a staff member could not be added or checked.
#[derive(Debug)]
#[non_exhaustive]
pub enum StaffError {
    /// The staff number is not 2-16 capital letters, digits or hyphens.
    BadNumber,
    /// The PIN is not 4-12 digits.
    BadPin,
    /// Hashing failed (no randomness).
    Hash(String),
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for StaffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadNumber => {
                f.write_str("a staff number is 2 to 16 capital letters, digits or hyphens")
            }
            Self::BadPin => f.write_str("a PIN is 4 to 12 digits"),
            Self::Hash(detail) => write!(f, "the PIN could not be hashed: {detail}"),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for StaffError {}

fn valid_number(number: &str) -> bool {
    (2..=16).contains(&number.len())
        && number
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_pin(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

/// Adds (or replaces) a staff member.
pub fn add(store: &Store, number: &str, role: Role, pin: &str) -> Result<(), StaffError> {
    if !valid_number(number) {
        return Err(StaffError::BadNumber);
    }
    if !valid_pin(pin) {
        return Err(StaffError::BadPin);
    }
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|e| StaffError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| StaffError::Hash(e.to_string()))?;
    let pin_hash = Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|e| StaffError::Hash(e.to_string()))?
        .to_string();
    let mut bytes = Vec::new();
    ciborium::into_writer(&Credential { role, pin_hash }, &mut bytes)
        .map_err(|e| StaffError::Hash(e.to_string()))?;
    store.staff_put(number, &bytes).map_err(StaffError::Store)
}

/// The staff member's role if `pin` is theirs; `None` for an unknown number or a wrong PIN.
pub fn check(store: &Store, number: &str, pin: &str) -> Result<Option<Role>, StaffError> {
    if !valid_number(number) || !valid_pin(pin) {
        return Ok(None);
    }
    let Some(bytes) = store.staff_get(number).map_err(StaffError::Store)? else {
        return Ok(None);
    };
    let Ok(credential) = ciborium::from_reader::<Credential, _>(bytes.as_slice()) else {
        return Ok(None);
    };
    let Ok(hash) = PasswordHash::new(&credential.pin_hash) else {
        return Ok(None);
    };
    Ok(Argon2::default()
        .verify_password(pin.as_bytes(), &hash)
        .is_ok()
        .then_some(credential.role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_opens_only_its_own_staff_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::create(&dir.path().join("s.redb")).expect("store");
        add(&store, "OP-1001", Role::Operator, "4821").expect("add");
        add(&store, "SUP-2001", Role::Supervisor, "770312").expect("add");
        assert_eq!(
            check(&store, "OP-1001", "4821").expect("check"),
            Some(Role::Operator)
        );
        assert_eq!(check(&store, "OP-1001", "4822").expect("check"), None);
        assert_eq!(check(&store, "SUP-2001", "4821").expect("check"), None);
        assert_eq!(check(&store, "NOBODY", "4821").expect("check"), None);
        assert!(matches!(
            add(&store, "op", Role::Operator, "4821"),
            Err(StaffError::BadNumber)
        ));
        assert!(matches!(
            add(&store, "OP-2", Role::Operator, "12"),
            Err(StaffError::BadPin)
        ));
        let raw = store.staff_get("OP-1001").expect("get").expect("stored");
        assert!(
            !raw.windows(4).any(|w| w == b"4821"),
            "the PIN is not stored"
        );
    }
}
