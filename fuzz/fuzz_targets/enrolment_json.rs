//! Enrolment JSON from pre-registration imports: never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<sajili::kiosk::ImportRequest>(data);
});
