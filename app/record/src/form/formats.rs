//! Formats of the numbers on the form, where a format is published or fixed by practice.
//!
//! Each check takes the number as typed, after trimming, and says whether it fits. The
//! ranges are wide on purpose where the issuing body has changed its format over the years
//! (old national ID numbers are shorter than new ones): refusing a real number is worse than
//! accepting an odd one the registry will check again.

/// A number format: what it accepts and an example to show the person.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// An example of a well-formed value, shown in error messages.
    pub example: &'static str,
    check: fn(&str) -> bool,
}

impl Format {
    /// Whether `value` fits this format.
    pub fn accepts(&self, value: &str) -> bool {
        (self.check)(value)
    }
}

fn digits(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

fn upper_alphanumeric(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// KRA PIN of an individual: `A`, nine digits, a letter (P-prefixed PINs are for companies).
pub const KRA_PIN: Format = Format {
    example: "A012345678Z",
    check: |v| {
        let b = v.as_bytes();
        b.len() == 11
            && b[0] == b'A'
            && b[1..10].iter().all(u8::is_ascii_digit)
            && b[10].is_ascii_uppercase()
    },
};

/// Kenyan national ID card number: digits only, up to 9 (older cards have fewer digits).
pub const NATIONAL_ID: Format = Format {
    example: "12345678",
    check: |v| digits(v, 5, 9),
};

/// Kenyan birth certificate entry number: digits only.
pub const BIRTH_CERTIFICATE: Format = Format {
    example: "123456789",
    check: |v| digits(v, 4, 10),
};

/// Alien identity card number: digits only.
pub const ALIEN_ID: Format = Format {
    example: "1234567",
    check: |v| digits(v, 5, 10),
};

/// Passport number: capital letters and digits (ICAO 9303 allows up to 9 in the MRZ).
pub const PASSPORT: Format = Format {
    example: "AK1234567",
    check: |v| upper_alphanumeric(v, 5, 9),
};

/// Kenyan driving licence number: capital letters and digits.
pub const DRIVING_LICENCE: Format = Format {
    example: "DLA123456",
    check: |v| upper_alphanumeric(v, 5, 12),
};

/// NHIF membership number: digits only.
pub const NHIF: Format = Format {
    example: "12345678",
    check: |v| digits(v, 5, 10),
};

/// NSSF membership number: digits only.
pub const NSSF: Format = Format {
    example: "2012345678",
    check: |v| digits(v, 6, 12),
};

/// Nationality: an ISO 3166-1 alpha-3 code in capitals.
pub const NATIONALITY: Format = Format {
    example: "UGA",
    check: |v| v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kra_pin_is_a_nine_digits_and_a_letter() {
        assert!(KRA_PIN.accepts("A012345678Z"));
        assert!(
            !KRA_PIN.accepts("P051234567Q"),
            "company PINs are not for people"
        );
        assert!(!KRA_PIN.accepts("A01234567Z"), "eight digits");
        assert!(!KRA_PIN.accepts("A0123456789"), "ends in a digit");
        assert!(!KRA_PIN.accepts("a012345678z"), "lower case");
        assert!(!KRA_PIN.accepts("A01234５678Z"), "non-ASCII digit");
    }

    #[test]
    fn digit_formats_refuse_letters_and_bad_lengths() {
        assert!(NATIONAL_ID.accepts("12345678"));
        assert!(!NATIONAL_ID.accepts("1234"));
        assert!(!NATIONAL_ID.accepts("1234567890"));
        assert!(!NATIONAL_ID.accepts("1234567A"));
        assert!(BIRTH_CERTIFICATE.accepts("123456789"));
        assert!(!BIRTH_CERTIFICATE.accepts("12-3456"));
        assert!(NHIF.accepts("12345678"));
        assert!(!NHIF.accepts("1234"));
        assert!(NSSF.accepts("2012345678"));
        assert!(!NSSF.accepts("NSSF123"));
        assert!(ALIEN_ID.accepts("1234567"));
        assert!(!ALIEN_ID.accepts(""));
    }

    #[test]
    fn document_formats_accept_their_examples() {
        for format in [
            KRA_PIN,
            NATIONAL_ID,
            BIRTH_CERTIFICATE,
            ALIEN_ID,
            PASSPORT,
            DRIVING_LICENCE,
            NHIF,
            NSSF,
            NATIONALITY,
        ] {
            assert!(format.accepts(format.example), "{}", format.example);
        }
        assert!(!PASSPORT.accepts("ak1234567"));
        assert!(!PASSPORT.accepts("AK12345678901"));
        assert!(!NATIONALITY.accepts("KE"));
    }
}
