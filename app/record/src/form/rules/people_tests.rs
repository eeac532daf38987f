//! The rules for parents, place of birth, refugees' documents and amendments.

use time::macros::date;

use super::*;
use crate::form::{
    AmendedField, Amendment, Guardian, IdentityDocument, PlaceOfBirth, Relationship, schema::*,
};
use crate::record::{DeviceId, RegistrationNumber};

const TODAY: Date = date!(2026 - 11 - 25);

fn consent(given_by: ConsentGiver) -> Consent {
    Consent {
        given: true,
        given_by,
        text_version: "consent-2026-1".into(),
        language: "en".into(),
    }
}

fn staff() -> Staff {
    Staff {
        operator: "OP-0042".into(),
        ..crate::fixtures::adult_enrolment(1).staff
    }
}

fn check(d: &Demographics) -> Result<(), Problems> {
    let fingers: Vec<_> = FingerPosition::ALL
        .iter()
        .map(|p| (*p, FingerStatus::Captured))
        .collect();
    let giver = if age_on(d.date_of_birth, TODAY) < AGE_OF_MAJORITY {
        ConsentGiver::Guardian
    } else {
        ConsentGiver::Applicant
    };
    validate(
        &Application {
            demographics: d,
            consent: &consent(giver),
            staff: &staff(),
            fingers: &fingers,
            photo_override: None,
        },
        TODAY,
    )
}

fn problems_of(result: Result<(), Problems>) -> Problems {
    match result {
        Ok(()) => panic!("expected problems, the form passed"),
        Err(problems) => problems,
    }
}

/// A well-formed registration number (device from a fixed digest, this seq).
fn registration(seq: u64) -> String {
    RegistrationNumber {
        device: DeviceId::from_digest(&[0x3C; 32]),
        seq,
    }
    .to_string()
}

/// The same number with its check symbol replaced by another valid symbol.
fn mistyped_check(number: &str) -> String {
    let mut text = number.to_owned();
    let last = text.pop().unwrap_or('0');
    text.push(if last == '7' { '8' } else { '7' });
    text
}

fn parent(relationship: Relationship, name: &str) -> Guardian {
    Guardian {
        relationship,
        full_name: name.into(),
        id_number: None,
        registration_number: None,
    }
}

fn child() -> Demographics {
    let mut d = crate::fixtures::adult_demographics();
    d.date_of_birth = date!(2016 - 03 - 14);
    d.document = IdentityDocument {
        kind: DocumentType::BirthCertificate,
        number: "123456789".into(),
        ..d.document
    };
    d.marital_status = MaritalStatus::Single;
    d.employment = EmploymentStatus::Student;
    d.nssf = None;
    d.nhif = None;
    d.kra_pin = None;
    d
}

#[test]
fn a_child_with_both_parents_passes_and_each_is_checked() {
    let mut d = child();
    let mut mother = parent(Relationship::Mother, "Grace Atieno");
    mother.id_number = Some("23456789".into());
    let mut father = parent(Relationship::Father, "Peter Otieno");
    father.registration_number = Some(registration(41));
    d.guardians = vec![mother, father];
    assert_eq!(check(&d), Ok(()));

    // A typed registration number with a wrong check symbol is a mistyped symbol.
    d.guardians[1].registration_number = Some(mistyped_check(&registration(41)));
    let problems = problems_of(check(&d));
    assert!(problems.has(
        "guardians[1].registration_number",
        &ProblemKind::RegistrationNumberMistyped
    ));
    d.guardians[1].registration_number = Some("NOT-A-NUMBER".into());
    let problems = problems_of(check(&d));
    assert!(problems.has(
        "guardians[1].registration_number",
        &ProblemKind::BadFormat {
            example: "HWSA-QAY5-0001-M"
        }
    ));
}

#[test]
fn two_mothers_or_three_guardians_are_refused() {
    let mut d = child();
    d.guardians = vec![
        parent(Relationship::Mother, "Grace Atieno"),
        parent(Relationship::Mother, "Mary Akinyi"),
    ];
    let problems = problems_of(check(&d));
    assert!(problems.has(
        "guardians[1].relationship",
        &ProblemKind::RelationshipRepeated
    ));
    d.guardians = vec![
        parent(Relationship::Mother, "Grace Atieno"),
        parent(Relationship::Father, "Peter Otieno"),
        parent(Relationship::Guardian, "Juma Baraka"),
    ];
    let problems = problems_of(check(&d));
    assert!(problems.has("guardians", &ProblemKind::TooManyGuardians));
    // Two guardians, neither a parent, are fine.
    d.guardians = vec![
        parent(Relationship::Guardian, "Juma Baraka"),
        parent(Relationship::Guardian, "Halima Baraka"),
    ];
    assert_eq!(check(&d), Ok(()));
}

#[test]
fn the_place_of_birth_is_required_and_one_place_only() {
    let mut d = crate::fixtures::adult_demographics();
    d.place_of_birth = None;
    let problems = problems_of(check(&d));
    assert!(problems.has("place_of_birth.county", &ProblemKind::Required));
    d.place_of_birth = Some(PlaceOfBirth {
        county: None,
        country: Some("  ".into()),
    });
    let problems = problems_of(check(&d));
    assert!(problems.has("place_of_birth.county", &ProblemKind::Required));

    d.place_of_birth = Some(PlaceOfBirth {
        county: Some(48),
        country: None,
    });
    let problems = problems_of(check(&d));
    assert!(problems.has("place_of_birth.county", &ProblemKind::UnknownCounty));

    // A Kenyan born abroad gives the country.
    d.place_of_birth = Some(PlaceOfBirth {
        county: None,
        country: Some("GBR".into()),
    });
    assert_eq!(check(&d), Ok(()));
    for (county, country, kind) in [
        (Some(47), Some("UGA"), ProblemKind::PlaceOfBirthTwice),
        (None, Some("KEN"), ProblemKind::BornInKenyaGiveCounty),
        (None, Some("XYZ"), ProblemKind::UnknownCountry),
        (None, Some("uga"), ProblemKind::UnknownCountry),
    ] {
        d.place_of_birth = Some(PlaceOfBirth {
            county,
            country: country.map(str::to_owned),
        });
        let problems = problems_of(check(&d));
        assert!(problems.has("place_of_birth.country", &kind), "{country:?}");
    }
}

fn refugee(kind: DocumentType, number: &str, nationality: &str) -> Demographics {
    let mut d = crate::fixtures::adult_demographics();
    d.citizenship = Citizenship::Foreigner;
    d.document = IdentityDocument {
        kind,
        number: number.into(),
        nationality: Some(nationality.into()),
        ..d.document
    };
    d.place_of_birth = Some(PlaceOfBirth {
        county: None,
        country: Some(nationality.into()),
    });
    d.kra_pin = None;
    d
}

#[test]
fn refugees_present_a_refugee_id_or_a_unhcr_document_in_their_formats() {
    assert_eq!(
        check(&refugee(DocumentType::RefugeeId, "1234567", "SSD")),
        Ok(())
    );
    assert_eq!(
        check(&refugee(DocumentType::UnhcrDocument, "KAK-18C01234", "SOM")),
        Ok(())
    );
    for (kind, number, example) in [
        (DocumentType::RefugeeId, "RC-12345", "1234567"),
        (DocumentType::UnhcrDocument, "KAK18C01234", "KAK-18C01234"),
        (DocumentType::UnhcrDocument, "1234567", "KAK-18C01234"),
    ] {
        let problems = problems_of(check(&refugee(kind, number, "COD")));
        assert!(
            problems.has("document.number", &ProblemKind::BadFormat { example }),
            "{number}"
        );
    }
    // A refugee's document is a foreigner's.
    let mut d = refugee(DocumentType::RefugeeId, "1234567", "SSD");
    d.citizenship = Citizenship::Kenyan;
    let problems = problems_of(check(&d));
    assert!(problems.has("document.kind", &ProblemKind::DocumentNotForCitizenship));
}

#[test]
fn a_nationality_must_be_a_country_of_the_iso_list() {
    let mut d = refugee(DocumentType::Passport, "AK1234567", "UGA");
    assert_eq!(check(&d), Ok(()));
    // Three capitals that name no country, and a withdrawn code.
    for code in ["UGN", "YUG", "ZZZ"] {
        d.document.nationality = Some(code.into());
        let problems = problems_of(check(&d));
        assert!(
            problems.has("document.nationality", &ProblemKind::UnknownCountry),
            "{code}"
        );
    }
    for code in [None, Some("KEN"), Some("")] {
        d.document.nationality = code.map(str::to_owned);
        let problems = problems_of(check(&d));
        assert!(
            problems.has("document.nationality", &ProblemKind::NationalityRequired),
            "{code:?}"
        );
    }
}

/// A change made to a well-formed amendment, to see the rule it breaks.
type Change = fn(&mut Amendment);

fn amendment() -> Amendment {
    Amendment {
        amends: registration(7),
        fields: vec![AmendedField::Names, AmendedField::DateOfBirth],
        reason: Some(AmendmentReason::ClericalError),
        details: None,
    }
}

#[test]
fn an_amendment_names_a_real_number_what_changes_and_why() {
    let mut d = crate::fixtures::adult_demographics();
    d.amendment = Some(amendment());
    assert_eq!(check(&d), Ok(()));

    let cases: [(Change, &str, ProblemKind); 7] = [
        (
            |a| a.reason = None,
            "amendment.reason",
            ProblemKind::Required,
        ),
        (
            |a| a.reason = Some(AmendmentReason::Other),
            "amendment.details",
            ProblemKind::AmendmentDetailsRequired,
        ),
        (
            |a| a.amends = mistyped_check(&a.amends),
            "amendment.amends",
            ProblemKind::RegistrationNumberMistyped,
        ),
        (
            |a| a.amends.clear(),
            "amendment.amends",
            ProblemKind::Required,
        ),
        (
            |a| a.fields.clear(),
            "amendment.fields",
            ProblemKind::Required,
        ),
        (
            |a| a.fields.push(AmendedField::Names),
            "amendment.fields",
            ProblemKind::AmendedFieldRepeated,
        ),
        (
            |a| a.details = Some("x".repeat(81)),
            "amendment.details",
            ProblemKind::TooLong { max: 80 },
        ),
    ];
    for (change, field, kind) in cases {
        let mut a = amendment();
        change(&mut a);
        d.amendment = Some(a);
        let problems = problems_of(check(&d));
        assert!(problems.has(field, &kind), "{field} {kind:?}: {problems}");
    }
    // "Other" with the reason in words passes.
    let mut a = amendment();
    a.reason = Some(AmendmentReason::Other);
    a.details = Some("Name spelt as on the new birth certificate".into());
    d.amendment = Some(a);
    assert_eq!(check(&d), Ok(()));
}

#[test]
fn records_from_before_read_without_the_new_fields_and_new_ones_round_trip() {
    // A form written before place of birth, registration numbers and amendments reads back.
    let mut old = serde_json::to_value(crate::fixtures::adult_demographics())
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(map) = old.as_object_mut() {
        map.remove("place_of_birth");
    }
    let read: Demographics = serde_json::from_value(old).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.place_of_birth, None);
    assert_eq!(read.amendment, None);

    let mut d = crate::fixtures::adult_demographics();
    d.amendment = Some(amendment());
    let json = serde_json::to_string(&d).unwrap_or_else(|e| panic!("{e}"));
    assert!(json.contains(r#""amendment":{"amends":""#), "{json}");
    assert!(
        json.contains(r#""fields":["names","date_of_birth"]"#),
        "{json}"
    );
    let back: Demographics = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, d);
    // Nothing the schema does not name gets in through the new parts either.
    let smuggled = json.replace(r#""fields":"#, r#""dna":"x","fields":"#);
    assert!(serde_json::from_str::<Demographics>(&smuggled).is_err());
}

/// A passport's machine-readable line 2 naming `number` and `born`, its check digits computed.
fn mrz_line(number: &str, born: Date) -> String {
    let digit = |field: &str| {
        char::from(b'0' + crate::form::mrz_check_digit(field.as_bytes()).unwrap_or(0))
    };
    let number = format!("{number:<<9}");
    let birth = format!(
        "{:02}{:02}{:02}",
        born.year() % 100,
        u8::from(born.month()),
        born.day()
    );
    let mut line = format!(
        "{number}{}UGA{birth}{}F310630{}{}<",
        digit(&number),
        digit(&birth),
        digit("310630"),
        "<".repeat(14)
    );
    let composite = format!("{}{}{}", &line[0..10], &line[13..20], &line[21..43]);
    line.push(digit(&composite));
    line
}

#[test]
fn a_passports_machine_readable_line_is_checked_digit_by_digit_and_against_the_form() {
    use crate::form::MrzPart;
    let mut d = refugee(DocumentType::Passport, "AK1234567", "UGA");
    let line = mrz_line("AK1234567", d.date_of_birth);
    d.document.mrz = Some(line.clone());
    assert_eq!(check(&d), Ok(()));
    // The expiry's last digit mistyped: its check digit (character 28) is named.
    let mut mistyped = line.clone().into_bytes();
    mistyped[26] = if mistyped[26] == b'1' { b'2' } else { b'1' };
    d.document.mrz = Some(String::from_utf8_lossy(&mistyped).into_owned());
    let problems = problems_of(check(&d));
    let expiry = ProblemKind::MrzCheckDigit {
        part: MrzPart::Expiry,
    };
    assert!(problems.has("document.mrz", &expiry));
    let message = problems.0[0].message(crate::form::Language::English);
    assert!(message.contains("expiry date (character 28)"), "{message}");
    // A sound line for another passport than the number typed.
    d.document.mrz = Some(line.clone());
    d.document.number = "AK7654321".into();
    let problems = problems_of(check(&d));
    let other = ProblemKind::MrzDisagrees {
        part: MrzPart::DocumentNumber,
    };
    assert!(problems.has("document.mrz", &other));
    // Too short, and on a document that has no such line.
    d.document.number = "AK1234567".into();
    d.document.mrz = Some(line[..40].to_owned());
    assert!(problems_of(check(&d)).has("document.mrz", &ProblemKind::MrzBadFormat));
    let mut card = refugee(DocumentType::RefugeeId, "1234567", "SSD");
    card.document.mrz = Some(line);
    assert!(problems_of(check(&card)).has("document.mrz", &ProblemKind::MrzNotAPassport));
    // An empty line is one not typed.
    d.document.mrz = Some("  ".into());
    assert_eq!(check(&d), Ok(()));
}
