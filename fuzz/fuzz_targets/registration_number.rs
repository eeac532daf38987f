//! Registration numbers typed by people: never a panic; what parses prints back the same.
#![no_main]
use sajili::record::RegistrationNumber;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(number) = RegistrationNumber::parse(text) {
            assert_eq!(RegistrationNumber::parse(&number.to_string()), Ok(number));
        }
    }
});
