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

/// An institution's reference for a person it holds (prison number, hospital file number):
/// institutions number in their own ways, so capitals, digits, `/` and `-`, 3 to 20.
pub const INSTITUTION_REFERENCE: Format = Format {
    example: "NRB/2026/0142",
    check: |v| {
        (3..=20).contains(&v.len())
            && v.bytes().any(|b| b.is_ascii_digit())
            && v.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'/' || b == b'-')
    },
};

/// A registration number Sajili gave (`DDDD-DDDD-SSSS-C`), its check symbol right.
pub const REGISTRATION_NUMBER: Format = Format {
    example: "HWSA-QAY5-0001-M",
    check: |v| crate::record::RegistrationNumber::parse(v).is_ok(),
};

/// Refugee identity card number (Kenya's Department of Refugee Services): digits only; cards
/// of several series are in use, so 6 to 10.
pub const REFUGEE_ID: Format = Format {
    example: "1234567",
    check: |v| digits(v, 6, 10),
};

/// UNHCR individual number on a proof of registration or an asylum-seeker pass: the
/// registering office's three-symbol code, `-`, then 6 to 10 capitals and digits with at
/// least one digit (proGres numbers such as `KAK-18C01234` or `336-00123456`).
pub const UNHCR_DOCUMENT: Format = Format {
    example: "KAK-18C01234",
    check: |v| {
        let b = v.as_bytes();
        b.len() >= 10
            && b.len() <= 14
            && b[..3]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && b[3] == b'-'
            && b[4..].iter().any(u8::is_ascii_digit)
            && b[4..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    },
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
            INSTITUTION_REFERENCE,
        ] {
            assert!(format.accepts(format.example), "{}", format.example);
        }
        assert!(!PASSPORT.accepts("ak1234567"));
        assert!(!PASSPORT.accepts("AK12345678901"));
        assert!(!NATIONALITY.accepts("KE"));
    }

    #[test]
    fn refugee_documents_have_their_own_formats() {
        assert!(REFUGEE_ID.accepts(REFUGEE_ID.example));
        assert!(REFUGEE_ID.accepts("1234567890"));
        assert!(!REFUGEE_ID.accepts("12345"), "too short");
        assert!(!REFUGEE_ID.accepts("RC123456"), "letters");
        assert!(UNHCR_DOCUMENT.accepts(UNHCR_DOCUMENT.example));
        assert!(UNHCR_DOCUMENT.accepts("336-00123456"));
        assert!(
            !UNHCR_DOCUMENT.accepts("KAK18C01234"),
            "no hyphen after the office"
        );
        assert!(!UNHCR_DOCUMENT.accepts("KAK-18C01"), "too short");
        assert!(!UNHCR_DOCUMENT.accepts("KAK-18C0123456789"), "too long");
        assert!(!UNHCR_DOCUMENT.accepts("kak-18c01234"), "lower case");
        assert!(!UNHCR_DOCUMENT.accepts("KAK-ABCDEFG"), "no digit");
        assert!(!UNHCR_DOCUMENT.accepts("KAKÄ-18C0123"), "non-ASCII");
    }
}
