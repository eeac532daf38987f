//! The provisioning bundle as field staff carry it: the registry's trust bundle, signed by the
//! ministry's provisioning key, whose public half is built into the image.
//!
//! Without the signature, whoever can write the boot partition of a kiosk (a FAT partition any
//! laptop writes) could hand it a bundle naming another registry and another age key, and the
//! kiosk would seal its enrolments for someone else. With it, a device built with the key takes
//! only bundles the key signed.
//!
//! JSON: `{"provisioning_bundle": 1, "bundle": "<the trust bundle's JSON, exactly as signed>",
//! "signature": "<ed25519 over those bytes, hex>"}` and optionally `"enrolment_token"`: the
//! one-time token for one device, added by `image-build/provision` after signing (a token is a
//! credential the registry checks; it says nothing the device must trust, so it stays outside
//! the signature, and one signed bundle serves a whole centre).

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{BundleError, TrustBundle};
use crate::record::{hex, parse_hex};

/// The provisioning bundle format this build reads and writes.
pub const PROVISIONING_FORMAT: u32 = 1;

/// The largest provisioning bundle read: a trust bundle with a centre's policy is a few KB.
pub const MAX_PROVISIONING_BUNDLE: usize = 1 << 20;

/// A signed provisioning bundle, as written to the boot partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningBundle {
    /// [`PROVISIONING_FORMAT`].
    pub provisioning_bundle: u32,
    /// The trust bundle's JSON, exactly as signed.
    pub bundle: String,
    /// ed25519 over the bytes of `bundle` by the provisioning key, hex.
    pub signature: String,
    /// The one-time enrolment token for this device, if added at provisioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment_token: Option<String>,
}

/// Why a provisioning bundle was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvisioningError {
    /// Larger than [`MAX_PROVISIONING_BUNDLE`].
    TooLarge(usize),
    /// A plain trust bundle where a signed one is required.
    NotSigned,
    /// Signed, but not by the provisioning key this device was built with.
    ForeignSignature,
    /// Not JSON of the provisioning bundle's shape, or a format this build does not read.
    Malformed(String),
    /// The signed trust bundle itself is wrong (signed by the right key, so a mistake at the
    /// back office, not an attack).
    Bundle(BundleError),
}

impl fmt::Display for ProvisioningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge(size) => write!(
                f,
                "the provisioning bundle is {size} bytes, more than {MAX_PROVISIONING_BUNDLE}"
            ),
            Self::NotSigned => write!(
                f,
                "the provisioning bundle is not signed: this device takes only bundles signed by the ministry's provisioning key"
            ),
            Self::ForeignSignature => write!(
                f,
                "the provisioning bundle is not signed by the provisioning key this device was built with"
            ),
            Self::Malformed(detail) => write!(f, "not a provisioning bundle: {detail}"),
            Self::Bundle(error) => write!(f, "the signed bundle is not valid: {error}"),
        }
    }
}

impl std::error::Error for ProvisioningError {}

/// Signs a trust bundle with the provisioning key. The bundle is checked first (a signature
/// over a bundle no device can use helps nobody), and signed as given, byte for byte.
pub fn sign(trust_json: &[u8], key: &SigningKey) -> Result<Vec<u8>, ProvisioningError> {
    TrustBundle::parse(trust_json).map_err(ProvisioningError::Bundle)?;
    let bundle = String::from_utf8(trust_json.to_vec())
        .map_err(|_| ProvisioningError::Malformed("the trust bundle is not UTF-8".into()))?;
    let signature = hex(&key.sign(bundle.as_bytes()).to_bytes());
    let signed = ProvisioningBundle {
        provisioning_bundle: PROVISIONING_FORMAT,
        bundle,
        signature,
        enrolment_token: None,
    };
    let mut out = serde_json::to_vec_pretty(&signed)
        .map_err(|e| ProvisioningError::Malformed(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// Whether `bytes` look like a signed provisioning bundle (rather than a plain trust bundle).
pub fn is_signed(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Marker {
        provisioning_bundle: Option<u32>,
    }
    serde_json::from_slice::<Marker>(bytes)
        .ok()
        .and_then(|marker| marker.provisioning_bundle)
        .is_some()
}

/// Opens what field staff put on the boot partition: the signature against `key` first, then
/// the trust bundle inside. Returns the trust bundle's JSON as the device pins it (with the
/// outer enrolment token, when there is one, in place of any inside) and the bundle parsed.
pub fn open(bytes: &[u8], key: &VerifyingKey) -> Result<(Vec<u8>, TrustBundle), ProvisioningError> {
    if bytes.len() > MAX_PROVISIONING_BUNDLE {
        return Err(ProvisioningError::TooLarge(bytes.len()));
    }
    if !is_signed(bytes) {
        return Err(if TrustBundle::parse(bytes).is_ok() {
            ProvisioningError::NotSigned
        } else {
            ProvisioningError::Malformed(
                "neither a signed provisioning bundle nor a trust bundle".into(),
            )
        });
    }
    let signed: ProvisioningBundle =
        serde_json::from_slice(bytes).map_err(|e| ProvisioningError::Malformed(e.to_string()))?;
    if signed.provisioning_bundle != PROVISIONING_FORMAT {
        return Err(ProvisioningError::Malformed(format!(
            "format {} (this build reads {PROVISIONING_FORMAT})",
            signed.provisioning_bundle
        )));
    }
    let signature = parse_hex(&signed.signature)
        .and_then(|raw| <[u8; 64]>::try_from(raw).ok())
        .map(|raw| Signature::from_bytes(&raw))
        .ok_or(ProvisioningError::ForeignSignature)?;
    key.verify(signed.bundle.as_bytes(), &signature)
        .map_err(|_| ProvisioningError::ForeignSignature)?;
    unwrap(signed)
}

/// Opens a signed provisioning bundle without checking its signature: only for a build that
/// has no provisioning key to check it with (development, tests), which takes plain bundles too.
pub fn open_unchecked(bytes: &[u8]) -> Result<(Vec<u8>, TrustBundle), ProvisioningError> {
    if bytes.len() > MAX_PROVISIONING_BUNDLE {
        return Err(ProvisioningError::TooLarge(bytes.len()));
    }
    let signed: ProvisioningBundle =
        serde_json::from_slice(bytes).map_err(|e| ProvisioningError::Malformed(e.to_string()))?;
    unwrap(signed)
}

/// The trust bundle inside, as the device pins it: the outer enrolment token, when there is
/// one, in place of any inside.
fn unwrap(signed: ProvisioningBundle) -> Result<(Vec<u8>, TrustBundle), ProvisioningError> {
    let mut bundle =
        TrustBundle::parse(signed.bundle.as_bytes()).map_err(ProvisioningError::Bundle)?;
    if signed.enrolment_token.is_none() {
        return Ok((signed.bundle.into_bytes(), bundle));
    }
    bundle.enrolment_token = signed.enrolment_token;
    let pinned = serde_json::to_vec_pretty(&bundle)
        .map_err(|e| ProvisioningError::Malformed(e.to_string()))?;
    Ok((pinned, bundle))
}

/// A provisioning key's public half as the image carries it: 64 hex digits and a newline.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = parse_hex(text.trim())?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// A trust bundle whose keys decode (the certificate need only be PEM here).
    fn trust() -> Vec<u8> {
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        let receipt = hex(key(9).verifying_key().as_bytes());
        format!(
            r#"{{"format": 1, "registry_url": "https://registry.example:8443", "age_recipient": "{recipient}", "receipt_signing_key": "{receipt}", "ca_certificate": "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_bundle_signed_by_the_key_opens_to_the_bundle_signed() {
        let trust = trust();
        let signed = sign(&trust, &key(1)).expect("signed");
        let (pinned, bundle) = open(&signed, &key(1).verifying_key()).expect("opened");
        assert_eq!(pinned, trust);
        assert_eq!(bundle, TrustBundle::parse(&trust).expect("trust"));
    }

    #[test]
    fn a_bundle_signed_by_another_key_is_foreign() {
        let signed = sign(&trust(), &key(2)).expect("signed");
        assert_eq!(
            open(&signed, &key(1).verifying_key()),
            Err(ProvisioningError::ForeignSignature)
        );
    }

    #[test]
    fn a_plain_trust_bundle_is_not_signed() {
        assert_eq!(
            open(&trust(), &key(1).verifying_key()),
            Err(ProvisioningError::NotSigned)
        );
    }

    #[test]
    fn a_changed_registry_breaks_the_signature() {
        let signed = sign(&trust(), &key(1)).expect("signed");
        let mut outer: ProvisioningBundle = serde_json::from_slice(&signed).expect("json");
        let original = TrustBundle::parse(outer.bundle.as_bytes()).expect("trust");
        outer.bundle = outer
            .bundle
            .replace(&original.registry_url, "https://collector.example");
        let forged = serde_json::to_vec(&outer).expect("json");
        assert_eq!(
            open(&forged, &key(1).verifying_key()),
            Err(ProvisioningError::ForeignSignature)
        );
    }

    #[test]
    fn the_outer_token_is_pinned_and_the_signature_still_holds() {
        let signed = sign(&trust(), &key(1)).expect("signed");
        let mut outer: ProvisioningBundle = serde_json::from_slice(&signed).expect("json");
        outer.enrolment_token = Some("ab".repeat(16));
        let with_token = serde_json::to_vec(&outer).expect("json");
        let (pinned, bundle) = open(&with_token, &key(1).verifying_key()).expect("opened");
        assert_eq!(
            bundle.enrolment_token.as_deref(),
            Some("ab".repeat(16).as_str())
        );
        let again = TrustBundle::parse(&pinned).expect("pinned parses");
        assert_eq!(again, bundle);
    }

    #[test]
    fn garbage_and_wrong_formats_are_refused_without_panic() {
        let verifying = key(1).verifying_key();
        for bytes in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"provisioning_bundle": 2, "bundle": "{}", "signature": ""}"#,
            br#"{"provisioning_bundle": 1, "bundle": "{}", "signature": "zz"}"#,
            br#"{"provisioning_bundle": 1}"#,
        ] {
            assert!(open(bytes, &verifying).is_err(), "{bytes:?}");
        }
        assert!(matches!(
            open(&vec![b' '; MAX_PROVISIONING_BUNDLE + 1], &verifying),
            Err(ProvisioningError::TooLarge(_))
        ));
    }

    #[test]
    fn a_bundle_that_is_not_valid_is_not_signed() {
        assert!(matches!(
            sign(br#"{"format": 1}"#, &key(1)),
            Err(ProvisioningError::Bundle(_))
        ));
    }

    #[test]
    fn public_keys_read_as_the_image_writes_them() {
        let public = hex(key(3).verifying_key().as_bytes());
        assert_eq!(
            parse_public_key(&format!("{public}\n")),
            Some(key(3).verifying_key())
        );
        assert_eq!(parse_public_key("not hex"), None);
    }
}
