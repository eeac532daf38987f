//! Operators and supervisors: staff numbers with a PIN, stored on the device as Argon2id
//! hashes, so a stolen store file does not give the PINs away; wrong PINs lock a staff number
//! for a while, longer each time, so a PIN cannot be guessed at the screen.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::form::{Problem, ProblemKind, Staff};
use crate::store::{Store, StoreError};

pub use sajili_record::pin::{
    MIN_NEW_PIN, PIN_HASH_LANES, PIN_HASH_MEMORY_KIB, PIN_HASH_PASSES, hash_pin, pin_matches,
};
pub use sajili_record::policy::Role;

/// Wrong PINs in a row before a staff number waits.
pub const FREE_ATTEMPTS: u32 = 5;
/// The first wait, seconds; it doubles with each wrong PIN after it.
pub const FIRST_WAIT_S: i64 = 30;
/// The longest wait, seconds (the doubling stops at a day).
pub const LONGEST_WAIT_S: i64 = 24 * 60 * 60;

#[derive(Serialize, Deserialize)]
struct Credential {
    role: Role,
    /// PHC string: algorithm, parameters, salt and hash.
    pin_hash: String,
    /// Disabled staff can neither sign in nor appear in a record sealed here.
    #[serde(default)]
    disabled: bool,
}

/// Wrong PINs so far for one staff number, kept in the store so a restart does not reset them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Attempts {
    /// Wrong PINs since the last right one.
    failures: u32,
    /// No PIN is checked before this time (Unix seconds).
    locked_until: i64,
}

/// Why a staff member could not be added or checked.
#[derive(Debug)]
#[non_exhaustive]
pub enum StaffError {
    /// The staff number is not 2-16 capital letters, digits or hyphens.
    BadNumber,
    /// A new PIN is not 6-12 digits.
    BadPin,
    /// No such staff member on this device.
    Unknown,
    /// Hashing failed (no randomness).
    Hash(String),
    /// This device's staff come from the fleet policy (this version): change them at the
    /// registry.
    FromPolicy(u64),
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for StaffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadNumber => {
                f.write_str("a staff number is 2 to 16 capital letters, digits or hyphens")
            }
            Self::BadPin => write!(f, "a PIN is {MIN_NEW_PIN} to 12 digits"),
            Self::Unknown => f.write_str("no staff member has that number on this device"),
            Self::Hash(detail) => write!(f, "the PIN could not be hashed: {detail}"),
            Self::FromPolicy(version) => write!(
                f,
                "this device's staff come from the fleet policy (version {version}): add or disable staff at the registry (`sajili-registry staff`)"
            ),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for StaffError {}

impl From<StoreError> for StaffError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// The outcome of one sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// The PIN is right: the staff member's role.
    Accepted(Role),
    /// A staff number not on this device's roster (what was typed is not named in the
    /// audit: it may be a PIN typed into the wrong box).
    Unknown,
    /// Disabled, or a wrong PIN (the screen does not say which).
    Refused,
    /// Too many wrong PINs: no PIN is checked for this many more seconds.
    Locked {
        /// Seconds to wait.
        seconds: i64,
    },
}

fn valid_number(number: &str) -> bool {
    sajili_record::policy::valid_staff_number(number)
}

/// A credential as stored, for a staff member the fleet policy names (enabled).
pub(crate) fn credential_bytes(role: Role, pin_hash: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    // A struct of strings and a bool always encodes.
    let _ = ciborium::into_writer(
        &Credential {
            role,
            pin_hash: pin_hash.to_string(),
            disabled: false,
        },
        &mut bytes,
    );
    bytes
}

fn credential(store: &Store, number: &str) -> Result<Option<Credential>, StoreError> {
    if !valid_number(number) {
        return Ok(None);
    }
    let Some(bytes) = store.staff_get(number)? else {
        return Ok(None);
    };
    // A damaged entry is no credential: nobody signs in with it.
    Ok(ciborium::from_reader::<Credential, _>(bytes.as_slice()).ok())
}

fn put_credential(store: &Store, number: &str, credential: &Credential) -> Result<(), StaffError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(credential, &mut bytes).map_err(|e| StaffError::Hash(e.to_string()))?;
    Ok(store.staff_put(number, &bytes)?)
}

/// Staff added on the device would be lost (or outlive a disabling) at the next policy.
fn refuse_under_policy(store: &Store) -> Result<(), StaffError> {
    match crate::fleet::running_version(store) {
        0 => Ok(()),
        version => Err(StaffError::FromPolicy(version)),
    }
}

/// Adds (or replaces, enabling again) a staff member; a new PIN starts with no wrong attempts.
pub fn add(store: &Store, number: &str, role: Role, pin: &str) -> Result<(), StaffError> {
    refuse_under_policy(store)?;
    if !valid_number(number) {
        return Err(StaffError::BadNumber);
    }
    if !sajili_record::pin::acceptable_new_pin(pin) {
        return Err(StaffError::BadPin);
    }
    let pin_hash = hash_pin(pin).map_err(StaffError::Hash)?;
    put_credential(
        store,
        number,
        &Credential {
            role,
            pin_hash,
            disabled: false,
        },
    )?;
    put_attempts(store, number, Attempts::default())
}

/// Disables a staff member: they can no longer sign in, nor be named in a record sealed here.
pub fn disable(store: &Store, number: &str) -> Result<(), StaffError> {
    refuse_under_policy(store)?;
    let mut found = credential(store, number)?.ok_or(StaffError::Unknown)?;
    found.disabled = true;
    put_credential(store, number, &found)
}

/// The role of an enabled staff member; `None` for unknown or disabled numbers.
pub fn enabled_role(store: &Store, number: &str) -> Result<Option<Role>, StaffError> {
    Ok(credential(store, number)?
        .filter(|c| !c.disabled)
        .map(|c| c.role))
}

fn attempts(store: &Store, number: &str) -> Result<Attempts, StaffError> {
    Ok(store
        .staff_attempts_get(number)?
        .and_then(|bytes| ciborium::from_reader(bytes.as_slice()).ok())
        .unwrap_or_default())
}

fn put_attempts(store: &Store, number: &str, attempts: Attempts) -> Result<(), StaffError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(&attempts, &mut bytes).map_err(|e| StaffError::Hash(e.to_string()))?;
    Ok(store.staff_attempts_put(number, &bytes)?)
}

/// How long a staff number waits after `failures` wrong PINs in a row: nothing for the first
/// [`FREE_ATTEMPTS`] - 1, then 30 s, 60 s, 120 s ... up to a day.
pub fn wait_after(failures: u32) -> i64 {
    if failures < FREE_ATTEMPTS {
        return 0;
    }
    let doublings = (failures - FREE_ATTEMPTS).min(20);
    (FIRST_WAIT_S << doublings).min(LONGEST_WAIT_S)
}

/// Checks `pin` for `number` at `now` (Unix seconds, clock floor applied). Wrong PINs for a
/// known number are counted in the store; a locked number is refused without checking the
/// PIN, so waiting is the only way on. The caller audits the outcome.
pub fn sign_in(store: &Store, number: &str, pin: &str, now: i64) -> Result<SignIn, StaffError> {
    let Some(found) = credential(store, number)? else {
        return Ok(SignIn::Unknown);
    };
    let mut tries = attempts(store, number)?;
    // A clock set back must not stretch a wait beyond its length.
    let left = tries
        .locked_until
        .saturating_sub(now)
        .min(wait_after(tries.failures));
    if left > 0 {
        return Ok(SignIn::Locked { seconds: left });
    }
    let right = pin_matches(&found.pin_hash, pin);
    if right && !found.disabled {
        if tries != Attempts::default() {
            put_attempts(store, number, Attempts::default())?;
        }
        return Ok(SignIn::Accepted(found.role));
    }
    tries.failures = tries.failures.saturating_add(1);
    let wait = wait_after(tries.failures);
    tries.locked_until = now.saturating_add(wait);
    put_attempts(store, number, tries)?;
    Ok(if wait > 0 {
        SignIn::Locked { seconds: wait }
    } else {
        SignIn::Refused
    })
}

/// The role of `number` if `pin` is theirs, counting wrong PINs as [`sign_in`] does.
pub fn check(store: &Store, number: &str, pin: &str, now: i64) -> Result<Option<Role>, StaffError> {
    Ok(match sign_in(store, number, pin, now)? {
        SignIn::Accepted(role) => Some(role),
        _ => None,
    })
}

/// Checks the staff a record names against this device's roster at sealing: the operator
/// (unless self-service), the supervisor and an institution's official enabled here, the
/// supervisor a supervisor, and two different people. Each problem names its field.
pub fn roster_problems(store: &Store, staff: &Staff) -> Result<Vec<Problem>, StoreError> {
    let mut problems = Vec::new();
    let operator = staff.operator.trim();
    if operator != crate::form::SELF_SERVICE {
        match credential(store, operator)? {
            None => problems.push(Problem::new("staff.operator", ProblemKind::StaffUnknown)),
            Some(c) if c.disabled => {
                problems.push(Problem::new("staff.operator", ProblemKind::StaffDisabled));
            }
            Some(_) => {}
        }
    }
    if let Some(supervisor) = staff.supervisor.as_deref().map(str::trim) {
        match credential(store, supervisor)? {
            None => problems.push(Problem::new("staff.supervisor", ProblemKind::StaffUnknown)),
            Some(c) if c.disabled => {
                problems.push(Problem::new("staff.supervisor", ProblemKind::StaffDisabled));
            }
            Some(c) if c.role != Role::Supervisor => problems.push(Problem::new(
                "staff.supervisor",
                ProblemKind::StaffNotSupervisor,
            )),
            Some(_) => {}
        }
    }
    // The institution's official is any member of the roster: a prison's or hospital's own
    // staff are given the kiosk's roster to sign off its references.
    if let Some(official) = staff.official.as_deref().map(str::trim) {
        match credential(store, official)? {
            None => problems.push(Problem::new("staff.official", ProblemKind::StaffUnknown)),
            Some(c) if c.disabled => {
                problems.push(Problem::new("staff.official", ProblemKind::StaffDisabled));
            }
            Some(_) => {}
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::create(&dir.path().join("s.redb")).expect("store");
        (dir, store)
    }

    #[test]
    fn a_pin_opens_only_its_own_staff_number() {
        let (_dir, store) = store();
        add(&store, "OP-1001", Role::Operator, "482193").expect("add");
        add(&store, "SUP-2001", Role::Supervisor, "770312").expect("add");
        assert_eq!(
            check(&store, "OP-1001", "482193", 0).expect("check"),
            Some(Role::Operator)
        );
        assert_eq!(check(&store, "OP-1001", "482194", 0).expect("check"), None);
        assert_eq!(check(&store, "SUP-2001", "482193", 0).expect("check"), None);
        assert_eq!(check(&store, "NOBODY", "482193", 0).expect("check"), None);
        assert!(matches!(
            add(&store, "op", Role::Operator, "482193"),
            Err(StaffError::BadNumber)
        ));
        let raw = store.staff_get("OP-1001").expect("get").expect("stored");
        assert!(
            !raw.windows(6).any(|w| w == b"482193"),
            "the PIN is not stored"
        );
        let text = String::from_utf8_lossy(&raw).into_owned();
        assert!(
            text.contains("$argon2id$v=19$m=19456,t=2,p=1$"),
            "the chosen parameters are in the hash: {text}"
        );
    }

    #[test]
    fn new_pins_have_at_least_six_digits() {
        let (_dir, store) = store();
        for short in ["1234", "12345", "12a456", ""] {
            assert!(
                matches!(
                    add(&store, "OP-2", Role::Operator, short),
                    Err(StaffError::BadPin)
                ),
                "{short:?} must be refused"
            );
        }
        add(&store, "OP-2", Role::Operator, "123456").expect("six digits");
    }

    #[test]
    fn five_wrong_pins_lock_the_number_for_30_s_then_twice_as_long_each_time() {
        let (_dir, store) = store();
        add(&store, "OP-1", Role::Operator, "246810").expect("add");
        let mut now = 1_800_000_000;
        for _ in 0..4 {
            assert_eq!(
                sign_in(&store, "OP-1", "000000", now).expect("check"),
                SignIn::Refused
            );
        }
        assert_eq!(
            sign_in(&store, "OP-1", "000000", now).expect("check"),
            SignIn::Locked { seconds: 30 }
        );
        // While locked, even the right PIN waits.
        now += 10;
        assert_eq!(
            sign_in(&store, "OP-1", "246810", now).expect("check"),
            SignIn::Locked { seconds: 20 }
        );
        now += 20;
        assert_eq!(
            sign_in(&store, "OP-1", "000000", now).expect("check"),
            SignIn::Locked { seconds: 60 }
        );
        now += 60;
        assert_eq!(
            sign_in(&store, "OP-1", "000000", now).expect("check"),
            SignIn::Locked { seconds: 120 }
        );
        now += 120;
        assert_eq!(
            sign_in(&store, "OP-1", "246810", now).expect("check"),
            SignIn::Accepted(Role::Operator)
        );
        // The right PIN starts the count again.
        assert_eq!(
            sign_in(&store, "OP-1", "000000", now).expect("check"),
            SignIn::Refused
        );
        assert_eq!(wait_after(40), LONGEST_WAIT_S);
    }

    #[test]
    fn a_disabled_staff_member_cannot_sign_in_nor_be_named() {
        let (_dir, store) = store();
        add(&store, "SUP-1", Role::Supervisor, "135790").expect("add");
        add(&store, "OP-1", Role::Operator, "246810").expect("add");
        disable(&store, "SUP-1").expect("disable");
        assert_eq!(check(&store, "SUP-1", "135790", 0).expect("check"), None);
        assert!(matches!(disable(&store, "SUP-9"), Err(StaffError::Unknown)));
        let named = |operator: &str, supervisor: Option<&str>| {
            roster_problems(
                &store,
                &Staff {
                    operator: operator.into(),
                    supervisor: supervisor.map(Into::into),
                    approval: None,
                    official: None,
                },
            )
            .expect("roster")
            .into_iter()
            .map(|p| (p.field, p.kind))
            .collect::<Vec<_>>()
        };
        assert_eq!(
            named("OP-1", Some("SUP-1")),
            [("staff.supervisor".to_string(), ProblemKind::StaffDisabled)]
        );
        assert_eq!(
            named("OP-9", Some("OP-1")),
            [
                ("staff.operator".to_string(), ProblemKind::StaffUnknown),
                (
                    "staff.supervisor".to_string(),
                    ProblemKind::StaffNotSupervisor
                )
            ]
        );
        assert!(named(crate::form::SELF_SERVICE, None).is_empty());
    }
}
