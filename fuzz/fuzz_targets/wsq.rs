//! WSQ files from outside (ABIS exchanges, field engineers' tools): decode or give an error,
//! never panic or allocate beyond what the frame header's checked size allows.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(file) = sajili::biometrics::wsq::decode(data) {
        let picture = file.picture;
        assert_eq!(picture.pixels().len(), picture.width() * picture.height());
    }
});
