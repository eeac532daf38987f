//! Trust bundles copied onto a device: never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = sajili::device::TrustBundle::parse(data);
});
