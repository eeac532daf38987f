//! The sealed envelope: the signed, chained wrapper around one encrypted enrolment.
//!
//! Byte layout (integers big-endian). The layout is fixed, so encoding is canonical: parsing and
//! re-encoding gives the same bytes, and the hash of the bytes names the envelope.
//!
//! | offset | size | field                                                                 |
//! |-------:|-----:|-----------------------------------------------------------------------|
//! | 0      | 4    | magic: `SJE2` (version 2, sealed now) or `SJE1` (version 1, still read) |
//! | 4      | 8    | device id, eight ASCII Crockford base32 symbols                       |
//! | 12     | 8    | seq, u64, gapless from 1 per device                                   |
//! | 20     | 32   | prev_hash: SHA-256 of the previous envelope's bytes; zeros for seq 1  |
//! | 52     | 8    | created_at, i64 Unix seconds (clock floor applied)                    |
//! | 60     | 32   | payload_hash: SHA-256 of the plaintext CBOR payload                   |
//! | 92     | 4    | N, ciphertext length, u32, at most [`MAX_CIPHERTEXT`]                 |
//! | 96     | N    | ciphertext: the payload encrypted with age to the registry's X25519 key |
//! | 96+N   | 64   | ed25519 signature: see below                                          |
//!
//! What the signature signs, with the device's record-signing key:
//!
//! - version 2: `"sajili-envelope-v2\0"` (19 bytes) followed by the SHA-256 of bytes 0 .. 96+N;
//! - version 1: bytes 0 .. 96+N themselves.
//!
//! The envelope's hash (what the next envelope's `prev_hash` and a receipt hold) is the SHA-256
//! of all its bytes in either version. Version 2 lets a verifier hash each record once: the
//! SHA-256 state after bytes 0 .. 96+N gives the signed digest, and the same state fed the
//! signature gives the envelope's hash. Version 1 made ed25519 hash the whole record again with
//! SHA-512 (no SHA instructions for it on most CPUs), a quarter or more of the registry's time per
//! record. The signed digest is domain-separated by its label, so it can be taken for nothing
//! else the key signs (the provisioning proof has a label of its own).

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::registration::DeviceId;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The magic bytes that open every envelope sealed now (version 2).
pub const MAGIC: &[u8; 4] = b"SJE2";
/// The magic bytes of a version-1 envelope (sealed before version 2), still read.
pub const MAGIC_V1: &[u8; 4] = b"SJE1";
/// What a version-2 signature signs before the digest.
const DIGEST_LABEL: &[u8] = b"sajili-envelope-v2\0";
const HEADER_LEN: usize = 96;
const SIGNATURE_LEN: usize = 64;
/// Largest ciphertext an envelope may carry (32 MiB): an enrolment is a few hundred KB, and a
/// length field from a damaged file must not make the reader allocate gigabytes.
pub const MAX_CIPHERTEXT: usize = 32 << 20;

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Lower-case hex of `bytes`, for display.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from hex (either case); `None` for an odd length or a non-hex symbol.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The envelope formats, which differ only in what the signature signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeVersion {
    /// `SJE1`: signed over the bytes before the signature.
    V1,
    /// `SJE2`: signed over a label and the SHA-256 of the bytes before the signature.
    V2,
}

impl EnvelopeVersion {
    fn magic(self) -> &'static [u8; 4] {
        match self {
            Self::V1 => MAGIC_V1,
            Self::V2 => MAGIC,
        }
    }

    fn of(magic: &[u8]) -> Option<Self> {
        if magic == MAGIC {
            Some(Self::V2)
        } else if magic == MAGIC_V1 {
            Some(Self::V1)
        } else {
            None
        }
    }
}

/// What a version-2 signature signs, given the SHA-256 of the bytes before it.
fn digest_message(digest: &Hash) -> [u8; DIGEST_LABEL.len() + 32] {
    let mut message = [0u8; DIGEST_LABEL.len() + 32];
    message[..DIGEST_LABEL.len()].copy_from_slice(DIGEST_LABEL);
    message[DIGEST_LABEL.len()..].copy_from_slice(digest);
    message
}

/// Whether `signature` is `key`'s over `signed` (the bytes before it) in `version`.
fn verify_signed(
    version: EnvelopeVersion,
    signed: &[u8],
    signature: &[u8; 64],
    key: &VerifyingKey,
) -> bool {
    let signature = Signature::from_bytes(signature);
    match version {
        EnvelopeVersion::V1 => key.verify(signed, &signature).is_ok(),
        EnvelopeVersion::V2 => key
            .verify(&digest_message(&sha256(signed)), &signature)
            .is_ok(),
    }
}

/// One sealed enrolment, as stored and as sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Its format: [`EnvelopeVersion::V2`] for every envelope sealed now.
    pub version: EnvelopeVersion,
    /// The device that sealed it.
    pub device_id: DeviceId,
    /// Its place in the device's chain, from 1.
    pub seq: u64,
    /// Hash of the envelope before it (zeros for seq 1).
    pub prev_hash: Hash,
    /// When it was sealed, Unix seconds, never earlier than the device's clock floor.
    pub created_at: i64,
    /// SHA-256 of the plaintext payload, so the registry can check what it decrypts.
    pub payload_hash: Hash,
    /// The payload encrypted to the registry.
    pub ciphertext: Vec<u8>,
    /// ed25519 signature by the device over everything above.
    pub signature: [u8; SIGNATURE_LEN],
}

impl fmt::Debug for Envelope {
    // The ciphertext is long and says nothing to a reader: show its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("version", &self.version)
            .field("device_id", &self.device_id)
            .field("seq", &self.seq)
            .field("prev_hash", &hex(&self.prev_hash))
            .field("created_at", &self.created_at)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Why bytes are not a well-formed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Fewer bytes than the layout needs: cut short in storage or transit.
    Truncated {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes there are.
        got: usize,
    },
    /// Bytes after the signature.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// Not an envelope, or a version this build does not read.
    BadMagic,
    /// The device id is not eight Crockford symbols.
    BadDeviceId,
    /// The length field is beyond [`MAX_CIPHERTEXT`].
    CiphertextTooLong {
        /// The length the field claims.
        claimed: u64,
    },
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, got } => {
                write!(f, "envelope truncated: {got} bytes, {needed} needed")
            }
            Self::TrailingBytes { extra } => write!(f, "{extra} stray bytes after the signature"),
            Self::BadMagic => f.write_str("not a Sajili envelope (bad magic)"),
            Self::BadDeviceId => f.write_str("device id is not eight base32 symbols"),
            Self::CiphertextTooLong { claimed } => {
                write!(
                    f,
                    "ciphertext length {claimed} exceeds the {MAX_CIPHERTEXT} byte limit"
                )
            }
        }
    }
}

impl std::error::Error for EnvelopeError {}

fn take<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[offset..offset + N]);
    out
}

impl Envelope {
    /// The bytes the signature covers.
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.ciphertext.len() + SIGNATURE_LEN);
        out.extend_from_slice(self.version.magic());
        out.extend_from_slice(self.device_id.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.created_at.to_be_bytes());
        out.extend_from_slice(&self.payload_hash);
        // Lengths above u32 cannot be built: `sign` refuses them before they get here.
        out.extend_from_slice(&(self.ciphertext.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Builds and signs an envelope (version 2).
    ///
    /// Fails only when the ciphertext is longer than [`MAX_CIPHERTEXT`].
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        key: &SigningKey,
        device_id: DeviceId,
        seq: u64,
        prev_hash: Hash,
        created_at: i64,
        payload_hash: Hash,
        ciphertext: Vec<u8>,
    ) -> Result<Self, EnvelopeError> {
        if ciphertext.len() > MAX_CIPHERTEXT {
            return Err(EnvelopeError::CiphertextTooLong {
                claimed: ciphertext.len() as u64,
            });
        }
        let envelope = Self {
            version: EnvelopeVersion::V2,
            device_id,
            seq,
            prev_hash,
            created_at,
            payload_hash,
            ciphertext,
            signature: [0; SIGNATURE_LEN],
        };
        Ok(envelope.signed_as(key, EnvelopeVersion::V2))
    }

    /// The same envelope in `version`, signed again with `key`: how records sealed before
    /// version 2 are made for tests and fixtures.
    pub fn signed_as(mut self, key: &SigningKey, version: EnvelopeVersion) -> Self {
        self.version = version;
        let signed = self.signed_bytes();
        self.signature = match version {
            EnvelopeVersion::V1 => key.sign(&signed),
            EnvelopeVersion::V2 => key.sign(&digest_message(&sha256(&signed))),
        }
        .to_bytes();
        self
    }

    /// The envelope's bytes, as stored and sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    /// SHA-256 of the envelope's bytes: what the next envelope's `prev_hash` holds.
    pub fn hash(&self) -> Hash {
        sha256(&self.to_bytes())
    }

    /// Parses an envelope. Checks the layout only: call [`Envelope::verify_signature`] too.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        EnvelopeView::parse(bytes).map(|view| view.to_envelope())
    }

    /// Whether the signature is the device's over these exact bytes.
    pub fn verify_signature(&self, key: &VerifyingKey) -> bool {
        verify_signed(self.version, &self.signed_bytes(), &self.signature, key)
    }
}

/// An envelope read in place: the header parsed, the ciphertext and signature left in the
/// bytes. What the registry checks each record with: a record is a few hundred KB, and an
/// [`Envelope`] copies its ciphertext once to parse and again to verify.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeView<'a> {
    /// Its format.
    pub version: EnvelopeVersion,
    /// The device that sealed it.
    pub device_id: DeviceId,
    /// Its place in the device's chain, from 1.
    pub seq: u64,
    /// Hash of the envelope before it (zeros for seq 1).
    pub prev_hash: Hash,
    /// When it was sealed, Unix seconds.
    pub created_at: i64,
    /// SHA-256 of the plaintext payload.
    pub payload_hash: Hash,
    /// The payload encrypted to the registry.
    pub ciphertext: &'a [u8],
    /// ed25519 signature by the device.
    pub signature: [u8; SIGNATURE_LEN],
    /// All its bytes.
    bytes: &'a [u8],
}

impl fmt::Debug for EnvelopeView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeView")
            .field("version", &self.version)
            .field("device_id", &self.device_id)
            .field("seq", &self.seq)
            .field("prev_hash", &hex(&self.prev_hash))
            .field("created_at", &self.created_at)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl<'a> EnvelopeView<'a> {
    /// Parses an envelope in place. Checks the layout only: call
    /// [`EnvelopeView::verify_signature`] too.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err(EnvelopeError::Truncated {
                needed: HEADER_LEN + SIGNATURE_LEN,
                got: bytes.len(),
            });
        }
        let version = EnvelopeVersion::of(&bytes[0..4]).ok_or(EnvelopeError::BadMagic)?;
        let device_text =
            std::str::from_utf8(&bytes[4..12]).map_err(|_| EnvelopeError::BadDeviceId)?;
        let device_id = DeviceId::parse(device_text)
            .filter(|id| id.as_bytes() == &bytes[4..12])
            .ok_or(EnvelopeError::BadDeviceId)?;
        let length = u32::from_be_bytes(take(bytes, 92)) as usize;
        if length > MAX_CIPHERTEXT {
            return Err(EnvelopeError::CiphertextTooLong {
                claimed: length as u64,
            });
        }
        let needed = HEADER_LEN + length + SIGNATURE_LEN;
        if bytes.len() < needed {
            return Err(EnvelopeError::Truncated {
                needed,
                got: bytes.len(),
            });
        }
        if bytes.len() > needed {
            return Err(EnvelopeError::TrailingBytes {
                extra: bytes.len() - needed,
            });
        }
        Ok(Self {
            version,
            device_id,
            seq: u64::from_be_bytes(take(bytes, 12)),
            prev_hash: take(bytes, 20),
            created_at: i64::from_be_bytes(take(bytes, 52)),
            payload_hash: take(bytes, 60),
            ciphertext: &bytes[HEADER_LEN..HEADER_LEN + length],
            signature: take(bytes, HEADER_LEN + length),
            bytes,
        })
    }

    /// The bytes the signature covers: all but the signature.
    fn signed(&self) -> &'a [u8] {
        &self.bytes[..self.bytes.len() - SIGNATURE_LEN]
    }

    /// Whether the signature is the device's over these exact bytes.
    pub fn verify_signature(&self, key: &VerifyingKey) -> bool {
        verify_signed(self.version, self.signed(), &self.signature, key)
    }

    /// The envelope's hash (SHA-256 of its bytes), if the signature is the device's. A version-2
    /// envelope is hashed once for both.
    pub fn verify_and_hash(&self, key: &VerifyingKey) -> Option<Hash> {
        match self.version {
            EnvelopeVersion::V1 => self.verify_signature(key).then(|| sha256(self.bytes)),
            EnvelopeVersion::V2 => {
                let mut hasher = Sha256::new();
                hasher.update(self.signed());
                let digest: Hash = hasher.clone().finalize().into();
                hasher.update(self.signature);
                let signature = Signature::from_bytes(&self.signature);
                key.verify(&digest_message(&digest), &signature)
                    .is_ok()
                    .then(|| hasher.finalize().into())
            }
        }
    }

    /// An owned copy.
    pub fn to_envelope(&self) -> Envelope {
        Envelope {
            version: self.version,
            device_id: self.device_id,
            seq: self.seq,
            prev_hash: self.prev_hash,
            created_at: self.created_at,
            payload_hash: self.payload_hash,
            ciphertext: self.ciphertext.to_vec(),
            signature: self.signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9; 32])
    }

    fn sample() -> Envelope {
        let signed = Envelope::sign(
            &key(),
            DeviceId::from_digest(&[1; 32]),
            3,
            [2; 32],
            1_780_000_000,
            [3; 32],
            b"ciphertext".to_vec(),
        );
        match signed {
            Ok(envelope) => envelope,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn encoding_is_canonical() {
        let envelope = sample();
        let bytes = envelope.to_bytes();
        assert_eq!(bytes.len(), 96 + 10 + 64);
        assert_eq!(Envelope::from_bytes(&bytes), Ok(envelope.clone()));
        assert!(envelope.verify_signature(&key().verifying_key()));
    }

    #[test]
    fn a_version_1_envelope_is_still_read_and_verified() {
        let old = sample().signed_as(&key(), EnvelopeVersion::V1);
        let bytes = old.to_bytes();
        assert_eq!(&bytes[..4], MAGIC_V1);
        assert_eq!(Envelope::from_bytes(&bytes), Ok(old.clone()));
        assert!(old.verify_signature(&key().verifying_key()));
        let view = EnvelopeView::parse(&bytes);
        let hash = view
            .as_ref()
            .ok()
            .and_then(|v| v.verify_and_hash(&key().verifying_key()));
        assert_eq!(hash, Some(sha256(&bytes)));
        // The same record in version 2 differs only in its magic and signature.
        let new = sample().to_bytes();
        assert_eq!(&new[..4], MAGIC);
        assert_eq!(new[4..new.len() - 64], bytes[4..bytes.len() - 64]);
        assert_ne!(new[new.len() - 64..], bytes[bytes.len() - 64..]);
    }

    #[test]
    fn a_version_2_signature_is_over_the_labelled_digest() {
        let envelope = sample();
        let bytes = envelope.to_bytes();
        let signed = &bytes[..bytes.len() - 64];
        let mut message = b"sajili-envelope-v2\0".to_vec();
        message.extend_from_slice(&sha256(signed));
        let signature = Signature::from_bytes(&envelope.signature);
        assert!(key().verifying_key().verify(&message, &signature).is_ok());
        // Neither the bytes themselves nor the bare digest verify: no other message passes.
        assert!(key().verifying_key().verify(signed, &signature).is_err());
        assert!(
            key()
                .verifying_key()
                .verify(&sha256(signed), &signature)
                .is_err()
        );
        let view = EnvelopeView::parse(&bytes);
        let hash = view
            .as_ref()
            .ok()
            .and_then(|v| v.verify_and_hash(&key().verifying_key()));
        assert_eq!(hash, Some(sha256(&bytes)), "the hash of every byte");
        assert_eq!(hash, Some(envelope.hash()));
    }

    #[test]
    fn the_view_reads_what_the_owned_envelope_reads() {
        let envelope = sample();
        let bytes = envelope.to_bytes();
        let view = EnvelopeView::parse(&bytes);
        assert_eq!(view.as_ref().map(EnvelopeView::to_envelope), Ok(envelope));
        assert!(view.is_ok_and(|v| v.verify_signature(&key().verifying_key())));
        for cut in 0..bytes.len() {
            assert!(EnvelopeView::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn any_flipped_byte_is_caught() {
        let bytes = sample().to_bytes();
        let verifying = key().verifying_key();
        for index in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[index] ^= 0x01;
            if let Ok(envelope) = Envelope::from_bytes(&tampered) {
                assert!(!envelope.verify_signature(&verifying), "byte {index}");
            }
            if let Ok(view) = EnvelopeView::parse(&tampered) {
                assert!(!view.verify_signature(&verifying), "byte {index}");
                assert_eq!(view.verify_and_hash(&verifying), None, "byte {index}");
            }
        }
    }

    #[test]
    fn short_long_and_foreign_bytes_are_refused() {
        let bytes = sample().to_bytes();
        for cut in 0..bytes.len() {
            assert!(Envelope::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            Envelope::from_bytes(&long),
            Err(EnvelopeError::TrailingBytes { extra: 1 })
        );
        let mut huge = bytes.clone();
        huge[92..96].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Envelope::from_bytes(&huge),
            Err(EnvelopeError::CiphertextTooLong { .. })
        ));
        let mut lower = bytes;
        lower[4] = lower[4].to_ascii_lowercase();
        lower[4] = b'u';
        assert_eq!(
            Envelope::from_bytes(&lower),
            Err(EnvelopeError::BadDeviceId)
        );
    }
}
