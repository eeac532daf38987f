//! The kiosk's side of the fleet: the policy it runs (its staff and settings, from the back
//! office, signed by the registry's policy key), and whether the registry has withdrawn it.
//!
//! A policy arrives two ways, both untrusted until checked: in the provisioning bundle (so a
//! device flashed for a centre has its staff before it reaches a network), and through the
//! spool from the uplink. Either way [`take`] verifies the signature against the key pinned in
//! the trust bundle and takes only a version above the running one; a policy that fails is
//! logged and the last good one kept.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::staff;
use crate::store::{AuditEvent, Store, StoreError};
use sajili_record::policy::{FleetPolicy, PolicyError, SignedPolicy, verify_newer};

/// Why a policy was not taken.
#[derive(Debug)]
#[non_exhaustive]
pub enum FleetError {
    /// The policy itself was refused; the running one stays.
    Policy(PolicyError),
    /// The trust bundle pins no policy key, so no policy can be taken.
    NoPolicyKey,
    /// The store failed.
    Store(StoreError),
}

impl std::fmt::Display for FleetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Policy(error) => error.fmt(f),
            Self::NoPolicyKey => f.write_str(
                "the trust bundle pins no policy key: re-provision with a bundle from this registry",
            ),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for FleetError {}

impl From<StoreError> for FleetError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Reads a policy that was checked when it was taken (its signature is not checked again:
/// the store is the kiosk's own).
fn parse_stored(bytes: &[u8]) -> Option<FleetPolicy> {
    let signed: SignedPolicy = serde_json::from_slice(bytes).ok()?;
    serde_json::from_str(&signed.policy).ok()
}

/// The policy this kiosk runs, if it has taken one.
pub fn running(store: &Store) -> Result<Option<FleetPolicy>, StoreError> {
    Ok(store.policy_bytes()?.as_deref().and_then(parse_stored))
}

/// The version of the policy running (0: none).
pub fn running_version(store: &Store) -> u64 {
    running(store)
        .ok()
        .flatten()
        .map_or(0, |policy| policy.version)
}

/// Takes `signed` if it is signed by `key` and newer than the policy running: its staff
/// replace the device's roster and it becomes the policy running, in one transaction, with an
/// audit event. Returns the policy taken.
pub fn take(
    store: &Store,
    signed: &[u8],
    key: Option<&VerifyingKey>,
    now: i64,
) -> Result<FleetPolicy, FleetError> {
    let key = key.ok_or(FleetError::NoPolicyKey)?;
    let policy = verify_newer(signed, key, running_version(store)).map_err(FleetError::Policy)?;
    let credentials = policy
        .staff
        .iter()
        .map(|member| {
            (
                member.number.clone(),
                staff::credential_bytes(member.role, &member.pin_hash),
            )
        })
        .collect::<Vec<_>>();
    store.apply_policy(
        signed,
        &credentials,
        &AuditEvent {
            at: now,
            actor: "system".into(),
            action: "policy.applied".into(),
            subject: format!("version {}", policy.version),
        },
    )?;
    Ok(policy)
}

/// What the registry said when it withdrew this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// When the kiosk learnt it (Unix seconds, its clock).
    pub learnt_at: i64,
    /// The registry's words, if it gave any (a handshake refusal carries none).
    pub detail: Option<String>,
}

/// The withdrawal, if the registry has withdrawn this device.
pub fn withdrawal(store: &Store) -> Result<Option<Withdrawal>, StoreError> {
    Ok(store
        .withdrawn()?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Notes a withdrawal (once: the first notice is kept).
pub fn note_withdrawal(store: &Store, notice: &Withdrawal) -> Result<(), StoreError> {
    if store.withdrawn()?.is_some() {
        return Ok(());
    }
    let bytes = serde_json::to_vec(notice).unwrap_or_default();
    store.set_withdrawn(
        &bytes,
        &AuditEvent {
            at: notice.learnt_at,
            actor: "system".into(),
            action: "device.withdrawn".into(),
            subject: String::new(),
        },
    )
}
