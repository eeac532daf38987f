//! Receipts and standings from the network or the spool: parse and verify without panic; what
//! verifies re-encodes identically. The key is the one the seed was signed with.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
    if let Ok(receipt) = sajili::record::Receipt::verify(data, &key) {
        assert_eq!(receipt.to_bytes(), data);
    }
});
