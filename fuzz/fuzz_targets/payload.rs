//! Decrypted payloads (the registry decodes what devices send): never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = sajili::record::decode_payload(data);
});
