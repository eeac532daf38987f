//! What comes down to a kiosk from the back office (a fleet policy: through the spool, which
//! the uplink can write, or in a bundle) and what the registry reads from devices (signed
//! audit batches): refused without panic, and never taken unless signed by the pinned key.
#![no_main]
use ed25519_dalek::SigningKey;
use sajili_record::policy::verify;
use sajili_record::protocol::SignedAudit;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let policy_key = SigningKey::from_bytes(&[5; 32]).verifying_key();
    if let Ok(policy) = verify(data, &policy_key) {
        assert!(policy.check().is_ok());
    }
    if let Ok(signed) = serde_json::from_slice::<SignedAudit>(data) {
        let device_key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        if let Some(batch) = signed.open(&device_key) {
            assert!(batch.events.windows(2).all(|w| w[0].number < w[1].number));
        }
    }
});
