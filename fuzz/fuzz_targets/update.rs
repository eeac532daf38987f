//! Update bundles (downloaded, or from a USB stick): the header is refused without panic unless
//! signed by the pinned key, and a part is taken only with the bytes its manifest names.
#![no_main]
use ed25519_dalek::SigningKey;
use sajili_record::update::{copy_part, read_header};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[6; 32]).verifying_key();
    let mut reader = data;
    if let Ok(manifest) = read_header(&mut reader, &key) {
        for part in &manifest.parts {
            if copy_part(&mut reader, &mut std::io::sink(), part, |_| {}).is_err() {
                break;
            }
        }
    }
});
