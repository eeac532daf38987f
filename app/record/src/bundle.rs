//! The registry's trust bundle: what a device pins at `init` (DESIGN.md, "Trust").
//!
//! JSON, written by `sajili-registry init --bundle-out`:
//! `{"format": 1, "registry_url": "https://…", "age_recipient": "age1…",
//!   "receipt_signing_key": "<64 hex>", "ca_certificate": "-----BEGIN CERTIFICATE-----…"}`
//! and optionally `"fallback_urls"` (further nodes of the same registry, tried in turn),
//! `"enrolment_token"` for first-boot provisioning, `"policy_key"` (the ed25519 key that signs
//! fleet policies, hex) and `"policy"` (a signed fleet policy, so a device flashed for a centre
//! knows its staff before it first reaches the network; see [`crate::policy`]).

use std::fmt;

use age::x25519::Recipient;
use ed25519_dalek::VerifyingKey;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

pub mod signed;

/// The bundle format this build reads.
pub const BUNDLE_FORMAT: u32 = 1;

/// A parsed, checked trust bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustBundle {
    /// [`BUNDLE_FORMAT`].
    pub format: u32,
    /// Where the registry listens, `https://host:port`.
    pub registry_url: String,
    /// Further nodes of the same registry, tried in order when the one before fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_urls: Vec<String>,
    /// The registry's age X25519 recipient (`age1…`): records are encrypted to it.
    pub age_recipient: String,
    /// The registry's ed25519 receipt-signing public key, hex.
    pub receipt_signing_key: String,
    /// The registry's CA certificate, PEM: the only root the uplink trusts.
    pub ca_certificate: String,
    /// A one-time enrolment token for first-boot provisioning, if the bundle carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment_token: Option<String>,
    /// The registry's ed25519 policy key, hex: the only key a fleet policy is taken under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_key: Option<String>,
    /// A signed fleet policy for the device's centre, if the bundle carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::SignedPolicy>,
}

/// Why a bundle was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleError {
    /// Not JSON of the bundle's shape.
    Json(String),
    /// A format this build does not read.
    UnsupportedFormat(u32),
    /// A field is present but wrong.
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(detail) => write!(f, "not a trust bundle: {detail}"),
            Self::UnsupportedFormat(format) => write!(
                f,
                "trust bundle format {format} is not supported (this build reads {BUNDLE_FORMAT})"
            ),
            Self::BadField { field, reason } => write!(f, "trust bundle field {field}: {reason}"),
        }
    }
}

impl std::error::Error for BundleError {}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    crate::record::parse_hex(text)?.try_into().ok()
}

fn is_https_url(url: &str) -> bool {
    url.starts_with("https://") && url.len() > 8
}

impl TrustBundle {
    /// Every node's URL, the first choice first.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.registry_url.as_str())
            .chain(self.fallback_urls.iter().map(String::as_str))
    }

    /// Parses and checks a bundle: every key and certificate must decode.
    pub fn parse(json: &[u8]) -> Result<Self, BundleError> {
        let bundle: TrustBundle =
            serde_json::from_slice(json).map_err(|e| BundleError::Json(e.to_string()))?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(BundleError::UnsupportedFormat(bundle.format));
        }
        if !is_https_url(&bundle.registry_url) {
            return Err(BundleError::BadField {
                field: "registry_url",
                reason: "must be an https:// URL",
            });
        }
        if !bundle.fallback_urls.iter().all(|url| is_https_url(url)) {
            return Err(BundleError::BadField {
                field: "fallback_urls",
                reason: "each must be an https:// URL",
            });
        }
        bundle.recipient()?;
        bundle.receipt_key()?;
        bundle.ca_certificate_der()?;
        if bundle.policy_key.is_some() {
            bundle.policy_key()?;
        }
        if bundle.policy.is_some() && bundle.policy_key.is_none() {
            return Err(BundleError::BadField {
                field: "policy",
                reason: "a policy needs the policy_key it is signed with",
            });
        }
        Ok(bundle)
    }

    /// The key fleet policies are signed with.
    pub fn policy_key(&self) -> Result<VerifyingKey, BundleError> {
        let bad = BundleError::BadField {
            field: "policy_key",
            reason: "missing, or not a 32-byte ed25519 public key in hex",
        };
        let bytes = self
            .policy_key
            .as_deref()
            .and_then(parse_hex32)
            .ok_or(bad.clone())?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| bad)
    }

    /// The policy the bundle carries, as the signed bytes a kiosk verifies.
    pub fn policy_bytes(&self) -> Option<Vec<u8>> {
        self.policy
            .as_ref()
            .and_then(|signed| serde_json::to_vec(signed).ok())
    }

    /// The age recipient records are encrypted to.
    pub fn recipient(&self) -> Result<Recipient, BundleError> {
        self.age_recipient
            .trim()
            .parse()
            .map_err(|_| BundleError::BadField {
                field: "age_recipient",
                reason: "not an age X25519 recipient (age1…)",
            })
    }

    /// The key that signs the registry's receipts.
    pub fn receipt_key(&self) -> Result<VerifyingKey, BundleError> {
        let bad = BundleError::BadField {
            field: "receipt_signing_key",
            reason: "not a 32-byte ed25519 public key in hex",
        };
        let bytes = parse_hex32(&self.receipt_signing_key).ok_or(bad.clone())?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| bad)
    }

    /// The registry CA's certificate, DER.
    pub fn ca_certificate_der(&self) -> Result<CertificateDer<'static>, BundleError> {
        CertificateDer::from_pem_slice(self.ca_certificate.as_bytes()).map_err(|_| {
            BundleError::BadField {
                field: "ca_certificate",
                reason: "not a PEM certificate",
            }
        })
    }
}
