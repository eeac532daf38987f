//! Image files from a path in the JSON (later: from the camera and sensor): never a panic.
#![no_main]
use sajili::biometrics::{ImageRole, check};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let role = if data.first().is_some_and(|b| b & 1 == 1) {
        ImageRole::FacePhoto
    } else {
        ImageRole::Fingerprint
    };
    let _ = check(data.to_vec(), role);
});
