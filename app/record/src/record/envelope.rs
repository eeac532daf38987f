//! The sealed envelope: the signed, chained wrapper around one encrypted enrolment.
//!
//! Byte layout (version 1, integers big-endian). The layout is fixed, so encoding is canonical:
//! parsing and re-encoding gives the same bytes, and the hash of the bytes names the envelope.
//!
//! | offset | size | field                                                                 |
//! |-------:|-----:|-----------------------------------------------------------------------|
//! | 0      | 4    | magic `SJE1`                                                          |
//! | 4      | 8    | device id, eight ASCII Crockford base32 symbols                       |
//! | 12     | 8    | seq, u64, gapless from 1 per device                                   |
//! | 20     | 32   | prev_hash: SHA-256 of the previous envelope's bytes; zeros for seq 1  |
//! | 52     | 8    | created_at, i64 Unix seconds (clock floor applied)                    |
//! | 60     | 32   | payload_hash: SHA-256 of the plaintext CBOR payload                   |
//! | 92     | 4    | N, ciphertext length, u32, at most [`MAX_CIPHERTEXT`]                 |
//! | 96     | N    | ciphertext: the payload encrypted with age to the registry's X25519 key |
//! | 96+N   | 64   | ed25519 signature over bytes 0 .. 96+N                                |

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::registration::DeviceId;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The magic bytes that open every version-1 envelope.
pub const MAGIC: &[u8; 4] = b"SJE1";
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

/// One sealed enrolment, as stored and as sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
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
        out.extend_from_slice(MAGIC);
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

    /// Builds and signs an envelope.
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
        let mut envelope = Self {
            device_id,
            seq,
            prev_hash,
            created_at,
            payload_hash,
            ciphertext,
            signature: [0; SIGNATURE_LEN],
        };
        envelope.signature = key.sign(&envelope.signed_bytes()).to_bytes();
        Ok(envelope)
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
        let signature = Signature::from_bytes(&self.signature);
        key.verify(&self.signed_bytes(), &signature).is_ok()
    }
}

/// An envelope read in place: the header parsed, the ciphertext and signature left in the
/// bytes. What the registry checks each record with: a record is a few hundred KB, and an
/// [`Envelope`] copies its ciphertext once to parse and again to verify.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeView<'a> {
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
    /// ed25519 signature by the device over [`EnvelopeView::signed`].
    pub signature: [u8; SIGNATURE_LEN],
    /// The bytes the signature covers: all but the signature.
    signed: &'a [u8],
}

impl fmt::Debug for EnvelopeView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeView")
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
        if &bytes[0..4] != MAGIC {
            return Err(EnvelopeError::BadMagic);
        }
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
            device_id,
            seq: u64::from_be_bytes(take(bytes, 12)),
            prev_hash: take(bytes, 20),
            created_at: i64::from_be_bytes(take(bytes, 52)),
            payload_hash: take(bytes, 60),
            ciphertext: &bytes[HEADER_LEN..HEADER_LEN + length],
            signature: take(bytes, HEADER_LEN + length),
            signed: &bytes[..HEADER_LEN + length],
        })
    }

    /// Whether the signature is the device's over these exact bytes.
    pub fn verify_signature(&self, key: &VerifyingKey) -> bool {
        let signature = Signature::from_bytes(&self.signature);
        key.verify(self.signed, &signature).is_ok()
    }

    /// An owned copy.
    pub fn to_envelope(&self) -> Envelope {
        Envelope {
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
