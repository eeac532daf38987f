//! The fleet policy: what the back office tells a kiosk about its staff and settings, signed by
//! the registry's policy key (DESIGN.md, "Keys, and who holds them").
//!
//! It comes down through the uplink, or rides in a provisioning bundle, and the kiosk trusts
//! it for its signature alone, never for the channel: the uplink and the spool can be written
//! by a process that holds no key. The wire form is JSON,
//! `{"policy": "<the policy's JSON, as a string>", "signature": "<128 hex>"}`: the signature is
//! over the exact bytes of that string, so no canonical JSON is needed and what was signed is
//! what is read.
//!
//! A policy names its version; a kiosk takes only a version above the one it runs, so an old
//! policy replayed (one that still lists a staff member since disabled) is refused.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::form::Language;
use crate::record::{hex, parse_hex};

/// The policy format this build reads.
pub const POLICY_FORMAT: u32 = 1;

/// The largest signed policy read, bytes: a staff entry is about 170 bytes, so 1 MiB holds a
/// roster of some 6,000, far beyond one centre; the cap keeps a planted file from being read
/// whole.
pub const MAX_POLICY: usize = 1 << 20;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs assisted enrolments.
    Operator,
    /// Approves enrolments and finger exceptions; may also operate.
    Supervisor,
}

impl Role {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Supervisor => "supervisor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "operator" => Ok(Self::Operator),
            "supervisor" => Ok(Self::Supervisor),
            _ => Err(format!("{text:?} is not a role: operator or supervisor")),
        }
    }
}

/// What kind of place a centre is: it decides which assisted paths its kiosks offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CentreKind {
    /// A Huduma centre, a chief's office or another public building.
    #[default]
    PublicOffice,
    /// A prison: enrolment is always assisted.
    Prison,
    /// A hospital: applicants may be enrolled at the bedside.
    Hospital,
}

impl CentreKind {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PublicOffice => "public_office",
            Self::Prison => "prison",
            Self::Hospital => "hospital",
        }
    }
}

impl fmt::Display for CentreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CentreKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.replace('-', "_").as_str() {
            "public_office" => Ok(Self::PublicOffice),
            "prison" => Ok(Self::Prison),
            "hospital" => Ok(Self::Hospital),
            _ => Err(format!(
                "{text:?} is not a kind of centre: public-office, prison or hospital"
            )),
        }
    }
}

/// The centre a device serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Centre {
    /// The back office's short id for it (`NRB-KIBERA`).
    pub id: String,
    /// Its name as staff know it.
    pub name: String,
    /// What kind of place it is.
    pub kind: CentreKind,
}

/// One member of staff a device may sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyStaff {
    /// The staff number.
    pub number: String,
    /// What they may do.
    pub role: Role,
    /// Their PIN's Argon2id hash, a PHC string ([`crate::pin`]).
    pub pin_hash: String,
}

/// Settings a centre's kiosks run with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Seconds without a touch before a self-service session is warned, then wiped.
    pub idle_timeout_s: u32,
    /// Seconds without a touch before an assisted enrolment locks until its operator signs in.
    pub assisted_lock_s: u32,
    /// Languages offered, ISO 639-1 codes, first the default.
    pub languages: Vec<String>,
    /// The consent text version applicants are shown.
    pub consent_version: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            idle_timeout_s: 90,
            assisted_lock_s: 300,
            languages: vec!["en".into(), "sw".into()],
            consent_version: "niims-consent-2026-2".into(),
        }
    }
}

/// What a fleet policy says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetPolicy {
    /// [`POLICY_FORMAT`].
    pub format: u32,
    /// Only ever increases across the whole fleet: a kiosk takes a policy only above the one
    /// it runs.
    pub version: u64,
    /// When the registry issued it, Unix seconds.
    pub issued_at: i64,
    /// The centre, if the device has been given one.
    #[serde(default)]
    pub centre: Option<Centre>,
    /// The staff who may sign in there, enabled ones only.
    pub staff: Vec<PolicyStaff>,
    /// How its kiosks run.
    pub settings: Settings,
}

/// A policy and its signature, as sent and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPolicy {
    /// The policy's JSON, exactly as signed.
    pub policy: String,
    /// ed25519 over the bytes of `policy`, hex.
    pub signature: String,
}

/// Why a policy was refused. The kiosk keeps the one it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// Larger than [`MAX_POLICY`].
    TooLarge(usize),
    /// Not JSON of the policy's shape.
    Json(String),
    /// The signature is not the pinned policy key's over these bytes.
    BadSignature,
    /// A format this build does not read.
    UnsupportedFormat(u32),
    /// Not newer than the policy in use.
    NotNewer {
        /// The version offered.
        offered: u64,
        /// The version in use.
        running: u64,
    },
    /// A field holds what a policy cannot.
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(len) => write!(
                f,
                "the policy is {len} bytes, more than the {MAX_POLICY} a policy may be"
            ),
            Self::Json(detail) => write!(f, "the policy is not readable: {detail}"),
            Self::BadSignature => f.write_str(
                "the policy is not signed by this registry's policy key (tampered, or from another registry)",
            ),
            Self::UnsupportedFormat(format) => write!(
                f,
                "the policy is format {format}; this build reads format {POLICY_FORMAT}"
            ),
            Self::NotNewer { offered, running } => write!(
                f,
                "the policy is version {offered}, not newer than version {running} in use"
            ),
            Self::BadField { field, reason } => write!(f, "the policy's {field} {reason}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// A staff number: 2-16 capital letters, digits or hyphens.
pub fn valid_staff_number(number: &str) -> bool {
    (2..=16).contains(&number.len())
        && number
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// A centre id: 2-32 capital letters, digits or hyphens.
pub fn valid_centre_id(id: &str) -> bool {
    (2..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

impl FleetPolicy {
    /// Checks what the signature cannot: fields a kiosk would act on.
    pub fn check(&self) -> Result<(), PolicyError> {
        let bad = |field, reason: &str| {
            Err(PolicyError::BadField {
                field,
                reason: reason.into(),
            })
        };
        if self.format != POLICY_FORMAT {
            return Err(PolicyError::UnsupportedFormat(self.format));
        }
        if let Some(centre) = &self.centre {
            if !valid_centre_id(&centre.id) {
                return bad(
                    "centre id",
                    "is not 2-32 capital letters, digits or hyphens",
                );
            }
            if centre.name.trim().is_empty() || centre.name.chars().count() > 80 {
                return bad("centre name", "is empty or longer than 80 characters");
            }
        }
        let mut numbers = std::collections::HashSet::new();
        for member in &self.staff {
            if !valid_staff_number(&member.number) {
                return bad(
                    "staff number",
                    "is not 2-16 capital letters, digits or hyphens",
                );
            }
            if !numbers.insert(member.number.as_str()) {
                return bad("staff", "lists a staff number twice");
            }
            if !member.pin_hash.starts_with("$argon2id$") || member.pin_hash.len() > 200 {
                return bad("PIN hash", "is not an Argon2id PHC string");
            }
        }
        let settings = &self.settings;
        if !(30..=3600).contains(&settings.idle_timeout_s) {
            return bad("idle timeout", "is not 30 to 3600 seconds");
        }
        if !(60..=3600).contains(&settings.assisted_lock_s) {
            return bad("assisted lock", "is not 60 to 3600 seconds");
        }
        if settings.languages.is_empty()
            || settings
                .languages
                .iter()
                .any(|code| Language::from_code(code).is_none())
        {
            return bad(
                "languages",
                "must name at least one of en, sw and nothing else",
            );
        }
        if settings.consent_version.is_empty() || settings.consent_version.len() > 64 {
            return bad("consent version", "is empty or longer than 64 characters");
        }
        Ok(())
    }

    /// Signs this policy with the policy key, as sent.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, PolicyError> {
        self.check()?;
        let policy = serde_json::to_string(self).map_err(|e| PolicyError::Json(e.to_string()))?;
        let signature = hex(&key.sign(policy.as_bytes()).to_bytes());
        serde_json::to_vec(&SignedPolicy { policy, signature })
            .map_err(|e| PolicyError::Json(e.to_string()))
    }
}

/// Reads a signed policy: the signature against the pinned `key` first, then the format and
/// fields. Says nothing about the version; see [`verify_newer`].
pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<FleetPolicy, PolicyError> {
    if bytes.len() > MAX_POLICY {
        return Err(PolicyError::TooLarge(bytes.len()));
    }
    let signed: SignedPolicy =
        serde_json::from_slice(bytes).map_err(|e| PolicyError::Json(e.to_string()))?;
    let signature = parse_hex(&signed.signature)
        .and_then(|raw| <[u8; 64]>::try_from(raw).ok())
        .map(|raw| Signature::from_bytes(&raw))
        .ok_or(PolicyError::BadSignature)?;
    key.verify(signed.policy.as_bytes(), &signature)
        .map_err(|_| PolicyError::BadSignature)?;
    let policy: FleetPolicy =
        serde_json::from_str(&signed.policy).map_err(|e| PolicyError::Json(e.to_string()))?;
    policy.check()?;
    Ok(policy)
}

/// The version a signed policy says it is, read without checking its signature: only to tell
/// a policy already seen from a newer one before the work of checking it (whoever takes it
/// checks it with [`verify_newer`]).
pub fn claimed_version(signed: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Version {
        version: u64,
    }
    let signed: SignedPolicy = serde_json::from_slice(signed).ok()?;
    serde_json::from_str::<Version>(&signed.policy)
        .ok()
        .map(|v| v.version)
}

/// [`verify`], and the version above `running` (the version in use; 0 for none).
pub fn verify_newer(
    bytes: &[u8],
    key: &VerifyingKey,
    running: u64,
) -> Result<FleetPolicy, PolicyError> {
    let policy = verify(bytes, key)?;
    if policy.version <= running {
        return Err(PolicyError::NotNewer {
            offered: policy.version,
            running,
        });
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(version: u64) -> FleetPolicy {
        FleetPolicy {
            format: POLICY_FORMAT,
            version,
            issued_at: 1_800_000_000,
            centre: Some(Centre {
                id: "NRB-KIBERA".into(),
                name: "Kibera Huduma Centre".into(),
                kind: CentreKind::PublicOffice,
            }),
            staff: vec![PolicyStaff {
                number: "SUP-1".into(),
                role: Role::Supervisor,
                pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            }],
            settings: Settings::default(),
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_signed_policy_reads_back_only_under_its_own_key_and_bytes() {
        let signed = policy(7).sign(&key(1)).expect("sign");
        assert_eq!(
            verify(&signed, &key(1).verifying_key()).expect("verify"),
            policy(7)
        );
        assert_eq!(
            verify(&signed, &key(2).verifying_key()),
            Err(PolicyError::BadSignature)
        );
        // One character of the policy changed: a PIN hash, a role, a version.
        let text = String::from_utf8(signed).expect("utf-8");
        let tampered = text.replacen("supervisor", "operator__", 1);
        assert_ne!(tampered, text);
        assert_eq!(
            verify(tampered.as_bytes(), &key(1).verifying_key()),
            Err(PolicyError::BadSignature)
        );
    }

    #[test]
    fn only_a_newer_version_is_taken() {
        let signed = policy(7).sign(&key(1)).expect("sign");
        let verifying = key(1).verifying_key();
        assert!(verify_newer(&signed, &verifying, 6).is_ok());
        assert_eq!(
            verify_newer(&signed, &verifying, 7),
            Err(PolicyError::NotNewer {
                offered: 7,
                running: 7
            })
        );
    }

    #[test]
    fn a_policy_with_fields_a_kiosk_cannot_use_is_not_signed() {
        let mut twice = policy(1);
        twice.staff.push(twice.staff[0].clone());
        assert!(matches!(
            twice.sign(&key(1)),
            Err(PolicyError::BadField { field: "staff", .. })
        ));
        let mut short = policy(1);
        short.settings.idle_timeout_s = 5;
        assert!(short.sign(&key(1)).is_err());
        let mut klingon = policy(1);
        klingon.settings.languages = vec!["tlh".into()];
        assert!(klingon.sign(&key(1)).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let verifying = key(1).verifying_key();
        for bytes in [
            &b""[..],
            b"{}",
            b"{\"policy\":\"{}\",\"signature\":\"00\"}",
            b"\xff\xfe",
        ] {
            assert!(verify(bytes, &verifying).is_err());
        }
        assert!(matches!(
            verify(&vec![b' '; MAX_POLICY + 1], &verifying),
            Err(PolicyError::TooLarge(_))
        ));
    }
}
