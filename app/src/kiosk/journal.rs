//! Drafts in the journal: encrypted to the device's journal key, so the plaintext never rests
//! in the store file, where redb's copy-on-write pages would keep it after the draft is removed.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::EnrolError;
use crate::device::Device;
use crate::record::SealError;

/// Encodes and encrypts a draft (an enrolment, or a kiosk session) for the journal.
pub fn encrypt_draft<T: Serialize>(device: &Device, draft: &T) -> Result<Vec<u8>, EnrolError> {
    let mut plaintext = Zeroizing::new(Vec::with_capacity(128 * 1024));
    ciborium::into_writer(draft, &mut *plaintext)
        .map_err(|e| EnrolError::Seal(SealError::Encode(e.to_string())))?;
    age::encrypt(&device.journal_key().to_public(), &plaintext)
        .map_err(|e| EnrolError::Seal(SealError::Encrypt(e.to_string())))
}

/// Decrypts and decodes a draft from the journal (to resume after a power cut).
pub fn decrypt_draft<T: DeserializeOwned>(device: &Device, bytes: &[u8]) -> Result<T, EnrolError> {
    let plaintext = Zeroizing::new(
        age::decrypt(&device.journal_key(), bytes)
            .map_err(|e| EnrolError::DraftUnreadable(e.to_string()))?,
    );
    ciborium::from_reader(plaintext.as_slice())
        .map_err(|e| EnrolError::DraftUnreadable(e.to_string()))
}

/// Replaces the journal key if no draft is waiting, so drafts left in free pages become
/// unreadable. A failure is harmless (the old key stays; the next seal tries again).
pub fn rotate_key_if_idle(device: &Device) {
    if device
        .store
        .journal_sessions()
        .is_ok_and(|sessions| sessions.is_empty())
    {
        let _ = device.rotate_journal_key();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DataDir, init, open};
    use crate::fixtures::adult_enrolment;

    #[test]
    fn a_draft_round_trips_and_dies_with_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundle = dir.path().join("bundle.json");
        let identity = age::x25519::Identity::generate();
        let json = serde_json::json!({
            "format": 1,
            "registry_url": "https://127.0.0.1:8443",
            "age_recipient": identity.to_public().to_string(),
            "receipt_signing_key": "11".repeat(32),
            "ca_certificate": "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        });
        std::fs::write(&bundle, json.to_string()).expect("bundle");
        let data = DataDir::new(dir.path().join("data"));
        init(&data, &bundle, &crate::clock::FixedClock(0)).expect("init");
        let device = open(&data).expect("open");

        let enrolment = adult_enrolment(4);
        let draft = encrypt_draft(&device, &enrolment).expect("encrypt");
        let surname = enrolment.demographics.names.surname.as_bytes();
        assert!(!draft.windows(surname.len()).any(|w| w == surname));
        let back: crate::record::Enrolment = decrypt_draft(&device, &draft).expect("decrypt");
        assert_eq!(back, enrolment);

        device.rotate_journal_key().expect("rotate");
        assert!(
            matches!(
                decrypt_draft::<crate::record::Enrolment>(&device, &draft),
                Err(EnrolError::DraftUnreadable(_))
            ),
            "old drafts die with the old key"
        );
        let again = encrypt_draft(&device, &enrolment).expect("encrypt");
        drop(device);
        let reopened = open(&data).expect("reopen");
        assert_eq!(
            decrypt_draft::<crate::record::Enrolment>(&reopened, &again).expect("new key on disk"),
            enrolment
        );
    }
}
