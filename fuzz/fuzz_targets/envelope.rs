//! Envelopes from disk or the network: parse without panic; what parses re-encodes identically.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = sajili::record::Envelope::from_bytes(data) {
        assert_eq!(envelope.to_bytes(), data);
    }
});
