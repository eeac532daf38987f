//! ISO/IEC 19794-4 and -5 records from outside: read or give an error, never panic; what reads
//! writes back to the same bytes when it was ours to begin with (checked in the tests).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use sajili::biometrics::iso19794::{read_face_record, read_finger_record};
    if let Ok(views) = read_finger_record(data) {
        assert!(views.iter().all(|v| v.data.len() <= data.len()));
    }
    if let Ok(faces) = read_face_record(data) {
        assert!(faces.iter().all(|f| f.data.len() <= data.len()));
    }
});
