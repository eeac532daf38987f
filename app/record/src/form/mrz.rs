//! The second line of a passport's machine-readable zone (ICAO Doc 9303 part 4, TD3), as an
//! operator types it: its check digits, and whether it names the document and the birth date
//! typed on the form.
//!
//! | characters (1-based) | content |
//! |---|---|
//! | 1-9 | document number, `<` filling |
//! | 10 | its check digit |
//! | 11-13 | nationality |
//! | 14-19 | date of birth, YYMMDD |
//! | 20 | its check digit |
//! | 21 | sex |
//! | 22-27 | date of expiry, YYMMDD |
//! | 28 | its check digit |
//! | 29-42 | personal number or other optional data |
//! | 43 | its check digit (`<` when the optional data is all `<`) |
//! | 44 | composite check digit over 1-10, 14-20 and 22-43 |
//!
//! A check digit is the sum of each character's value (digits as themselves, `A` to `Z` as 10
//! to 35, `<` as 0) weighted 7, 3, 1, 7, 3, 1, ... from the left, modulo 10.

use time::Date;

/// Characters in the line.
pub const LENGTH: usize = 44;

/// A part of the line that has its own check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzPart {
    /// The document number (characters 1-9, digit at 10).
    DocumentNumber,
    /// The date of birth (14-19, digit at 20).
    DateOfBirth,
    /// The date of expiry (22-27, digit at 28).
    Expiry,
    /// The personal number (29-42, digit at 43).
    PersonalNumber,
    /// The whole line (digit at 44).
    Composite,
}

impl MrzPart {
    /// Where its check digit is, counting characters from 1.
    pub fn check_position(self) -> usize {
        match self {
            Self::DocumentNumber => 10,
            Self::DateOfBirth => 20,
            Self::Expiry => 28,
            Self::PersonalNumber => 43,
            Self::Composite => 44,
        }
    }
}

/// What is wrong with a typed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzError {
    /// Not 44 characters of `0-9`, `A-Z` and `<`.
    BadFormat,
    /// A part's check digit does not match it: a character is mistyped.
    CheckDigit(MrzPart),
    /// The line is sound but names another document number or birth date than the form.
    Disagrees(MrzPart),
}

/// A character's value in a check digit; `None` for a character the zone never holds.
fn value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// The check digit of `field` (ICAO 9303 weights 7-3-1); `None` if it holds a foreign
/// character.
pub fn check_digit(field: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (c, weight) in field.iter().zip([7u32, 3, 1].into_iter().cycle()) {
        sum += value(*c)? * weight;
    }
    Some((sum % 10) as u8)
}

/// Whether `digit` is the check digit of `field`.
fn checks(field: &[u8], digit: u8) -> bool {
    digit.is_ascii_digit() && check_digit(field) == Some(digit - b'0')
}

/// Checks `line`'s check digits, then that it names `document_number` and `born`. A typed
/// number is compared without spaces, hyphens or slashes, as the zone writes it.
pub fn check(line: &str, document_number: &str, born: Option<Date>) -> Result<(), MrzError> {
    let line = line.trim().as_bytes();
    if line.len() != LENGTH || line.iter().any(|c| value(*c).is_none()) {
        return Err(MrzError::BadFormat);
    }
    for (part, field, digit) in [
        (MrzPart::DocumentNumber, &line[0..9], line[9]),
        (MrzPart::DateOfBirth, &line[13..19], line[19]),
        (MrzPart::Expiry, &line[21..27], line[27]),
    ] {
        if !checks(field, digit) {
            return Err(MrzError::CheckDigit(part));
        }
    }
    // No personal number: its check digit may be a filler as well.
    let personal = &line[28..42];
    let unused = personal.iter().all(|c| *c == b'<') && matches!(line[42], b'<' | b'0');
    if !unused && !checks(personal, line[42]) {
        return Err(MrzError::CheckDigit(MrzPart::PersonalNumber));
    }
    let composite: Vec<u8> = [&line[0..10], &line[13..20], &line[21..43]].concat();
    if !checks(&composite, line[43]) {
        return Err(MrzError::CheckDigit(MrzPart::Composite));
    }
    let in_zone: String = line[0..9]
        .iter()
        .filter(|c| **c != b'<')
        .map(|c| char::from(*c))
        .collect();
    let typed: String = document_number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if in_zone != typed {
        return Err(MrzError::Disagrees(MrzPart::DocumentNumber));
    }
    if let Some(born) = born {
        let yymmdd = format!(
            "{:02}{:02}{:02}",
            born.year().rem_euclid(100),
            u8::from(born.month()),
            born.day()
        );
        if line[13..19] != *yymmdd.as_bytes() {
            return Err(MrzError::Disagrees(MrzPart::DateOfBirth));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Month;

    /// ICAO Doc 9303 part 4's specimen (Anna Maria Eriksson, Utopia): its published line 2.
    const SPECIMEN: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    fn born(year: i32, month: Month, day: u8) -> Option<Date> {
        Date::from_calendar_date(year, month, day).ok()
    }

    #[test]
    fn the_icao_specimen_line_passes_every_check() {
        assert_eq!(check_digit(b"L898902C3"), Some(6));
        assert_eq!(check_digit(b"740812"), Some(2));
        assert_eq!(check_digit(b"120415"), Some(9));
        assert_eq!(
            check(SPECIMEN, "L898902C3", born(1974, Month::August, 12)),
            Ok(())
        );
    }

    /// The specimen with character `at` (1-based) replaced by `c`.
    fn changed(at: usize, c: char) -> String {
        let mut line: Vec<char> = SPECIMEN.chars().collect();
        line[at - 1] = c;
        line.into_iter().collect()
    }

    #[test]
    fn each_mistyped_part_names_its_own_check_digit() {
        let dob = born(1974, Month::August, 12);
        let cases = [
            (2, '9', MrzPart::DocumentNumber),
            (16, '1', MrzPart::DateOfBirth),
            (24, '5', MrzPart::Expiry),
            (30, 'F', MrzPart::PersonalNumber),
            (44, '1', MrzPart::Composite),
        ];
        for (at, c, part) in cases {
            assert_eq!(
                check(&changed(at, c), "L898902C3", dob),
                Err(MrzError::CheckDigit(part)),
                "character {at}"
            );
        }
        assert_eq!(MrzPart::Expiry.check_position(), 28);
    }

    #[test]
    fn a_line_for_another_passport_or_birthday_disagrees() {
        assert_eq!(
            check(SPECIMEN, "L898902C4", born(1974, Month::August, 12)),
            Err(MrzError::Disagrees(MrzPart::DocumentNumber))
        );
        assert_eq!(
            check(SPECIMEN, "l898902c3", born(1974, Month::August, 13)),
            Err(MrzError::Disagrees(MrzPart::DateOfBirth))
        );
        // Without a birth date typed yet, only the number is compared.
        assert_eq!(check(SPECIMEN, "L898902C3", None), Ok(()));
    }

    #[test]
    fn a_line_of_the_wrong_length_or_characters_is_badly_formed() {
        assert_eq!(
            check(&SPECIMEN[..43], "L898902C3", None),
            Err(MrzError::BadFormat)
        );
        assert_eq!(
            check(&changed(5, 'a'), "L898902C3", None),
            Err(MrzError::BadFormat)
        );
        assert_eq!(
            check(&changed(5, '-'), "L898902C3", None),
            Err(MrzError::BadFormat)
        );
        assert_eq!(check("", "", None), Err(MrzError::BadFormat));
        assert_eq!(check_digit("é".as_bytes()), None);
    }

    #[test]
    fn no_personal_number_may_have_a_filler_for_its_check_digit() {
        let digit = |field: &str| char::from(b'0' + check_digit(field.as_bytes()).unwrap_or(0));
        // A passport with no optional data: fillers, and a filler for their check digit.
        let mut line = format!(
            "AB1234567{}KEN900101{}M300101{}{}<",
            digit("AB1234567"),
            digit("900101"),
            digit("300101"),
            "<".repeat(14)
        );
        let composite = format!("{}{}{}", &line[0..10], &line[13..20], &line[21..43]);
        line.push(digit(&composite));
        assert_eq!(line.len(), LENGTH, "{line}");
        assert_eq!(
            check(&line, "AB1234567", born(1990, Month::January, 1)),
            Ok(())
        );
    }
}
