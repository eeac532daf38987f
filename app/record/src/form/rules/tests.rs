use time::macros::date;

use super::*;
use crate::form::{Guardian, IdentityDocument, Language, Relationship, schema::*};

const TODAY: Date = date!(2026 - 11 - 25);

fn adult() -> Demographics {
    crate::fixtures::adult_demographics()
}

fn child(date_of_birth: Date) -> Demographics {
    Demographics {
        document: IdentityDocument {
            kind: DocumentType::BirthCertificate,
            number: "123456789".into(),
            nationality: None,
        },
        date_of_birth,
        guardians: vec![Guardian {
            relationship: Relationship::Mother,
            full_name: "Grace Atieno".into(),
            id_number: Some("23456789".into()),
        }],
        marital_status: MaritalStatus::Single,
        employment: EmploymentStatus::Student,
        land_reference: None,
        nssf: None,
        nhif: None,
        kra_pin: None,
        ..adult()
    }
}

fn consent(given_by: ConsentGiver) -> Consent {
    Consent {
        given: true,
        given_by,
        text_version: "consent-2026-1".into(),
        language: "sw".into(),
    }
}

fn staff() -> Staff {
    Staff {
        operator: "OP-0042".into(),
        supervisor: None,
        approval: None,
    }
}

fn all_captured() -> Vec<(FingerPosition, FingerStatus)> {
    FingerPosition::ALL
        .iter()
        .map(|p| (*p, FingerStatus::Captured))
        .collect()
}

fn check(d: &Demographics, c: &Consent, s: &Staff) -> Result<(), Problems> {
    let fingers = all_captured();
    check_with_fingers(d, c, s, &fingers)
}

fn check_with_fingers(
    d: &Demographics,
    c: &Consent,
    s: &Staff,
    fingers: &[(FingerPosition, FingerStatus)],
) -> Result<(), Problems> {
    validate(
        &Application {
            demographics: d,
            consent: c,
            staff: s,
            fingers,
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

#[test]
fn a_complete_adult_citizen_passes() {
    assert_eq!(
        check(&adult(), &consent(ConsentGiver::Applicant), &staff()),
        Ok(())
    );
}

#[test]
fn a_child_one_day_short_of_six_is_refused() {
    let d = child(date!(2020 - 11 - 26));
    let problems = problems_of(check(&d, &consent(ConsentGiver::Guardian), &staff()));
    assert!(problems.has("date_of_birth", &ProblemKind::TooYoung { age: 5 }));
    assert_eq!(problems.0.len(), 1, "{problems}");
}

#[test]
fn a_child_on_the_sixth_birthday_is_accepted() {
    let d = child(date!(2020 - 11 - 25));
    assert_eq!(
        check(&d, &consent(ConsentGiver::Guardian), &staff()),
        Ok(())
    );
}

#[test]
fn a_leap_day_birthday_counts_from_the_first_of_march() {
    assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 02 - 28)), 17);
    assert_eq!(age_on(date!(2008 - 02 - 29), date!(2026 - 03 - 01)), 18);
    assert_eq!(age_on(date!(2008 - 02 - 29), date!(2028 - 02 - 29)), 20);
}

#[test]
fn a_birth_date_after_the_capture_date_is_refused() {
    let mut d = adult();
    d.date_of_birth = date!(2026 - 11 - 26);
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    assert!(problems.has("date_of_birth", &ProblemKind::BornInFuture));
}

#[test]
fn a_citizen_must_give_a_citizens_document() {
    let mut d = adult();
    d.document = IdentityDocument {
        kind: DocumentType::Passport,
        number: "AK1234567".into(),
        nationality: None,
    };
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    assert!(problems.has("document.kind", &ProblemKind::DocumentNotForCitizenship));
    assert!(
        !problems.names("document.nationality"),
        "citizens give no nationality"
    );
}

#[test]
fn a_driving_licence_is_a_citizens_document() {
    let mut d = adult();
    d.document = IdentityDocument {
        kind: DocumentType::DrivingLicence,
        number: "DLA123456".into(),
        nationality: None,
    };
    assert_eq!(
        check(&d, &consent(ConsentGiver::Applicant), &staff()),
        Ok(())
    );
}

#[test]
fn a_foreigner_gives_an_alien_id_or_passport_with_nationality() {
    let mut d = adult();
    d.citizenship = Citizenship::Foreigner;
    d.document = IdentityDocument {
        kind: DocumentType::Passport,
        number: "B1234567".into(),
        nationality: Some("UGA".into()),
    };
    assert_eq!(
        check(&d, &consent(ConsentGiver::Applicant), &staff()),
        Ok(())
    );

    d.document.kind = DocumentType::AlienId;
    d.document.number = "1234567".into();
    assert_eq!(
        check(&d, &consent(ConsentGiver::Applicant), &staff()),
        Ok(())
    );

    d.document.kind = DocumentType::NationalId;
    d.document.number = "12345678".into();
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    assert!(problems.has("document.kind", &ProblemKind::DocumentNotForCitizenship));
}

#[test]
fn a_foreigner_without_a_valid_nationality_is_refused() {
    let mut d = adult();
    d.citizenship = Citizenship::Foreigner;
    for nationality in [None, Some("KEN"), Some("ug"), Some("UGAN")] {
        d.document = IdentityDocument {
            kind: DocumentType::Passport,
            number: "B1234567".into(),
            nationality: nationality.map(String::from),
        };
        let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
        assert!(
            problems.has("document.nationality", &ProblemKind::NationalityRequired),
            "{nationality:?}"
        );
    }
}

#[test]
fn under_eighteen_needs_a_named_parent_or_guardian() {
    let mut d = child(date!(2010 - 01 - 01));
    d.guardians.clear();
    let problems = problems_of(check(&d, &consent(ConsentGiver::Guardian), &staff()));
    assert!(problems.has("guardians", &ProblemKind::GuardianRequired));

    d.guardians.push(Guardian {
        relationship: Relationship::Guardian,
        full_name: "  ".into(),
        id_number: None,
    });
    let problems = problems_of(check(&d, &consent(ConsentGiver::Guardian), &staff()));
    assert!(problems.has("guardians", &ProblemKind::GuardianRequired));
    assert!(problems.has("guardians[0].full_name", &ProblemKind::Required));

    d.guardians[0].full_name = "Otieno Ochieng".into();
    assert_eq!(
        check(&d, &consent(ConsentGiver::Guardian), &staff()),
        Ok(())
    );
}

#[test]
fn an_adult_needs_no_guardian_but_a_child_needs_guardian_consent() {
    let d = child(date!(2012 - 06 - 01));
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    assert!(problems.has("consent.given_by", &ProblemKind::GuardianConsentRequired));
}

#[test]
fn numbers_are_checked_for_format() {
    let mut d = adult();
    d.kra_pin = Some("A12345678".into());
    d.nhif = Some("NHIF-1".into());
    d.nssf = Some("12".into());
    d.document.number = "12345A".into();
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    for field in ["kra_pin", "nhif", "nssf", "document.number"] {
        assert!(
            problems
                .0
                .iter()
                .any(|p| p.field == field && matches!(p.kind, ProblemKind::BadFormat { .. })),
            "{field}: {problems}"
        );
    }

    let mut d = child(date!(2015 - 01 - 01));
    d.document.number = "12AB".into();
    let problems = problems_of(check(&d, &consent(ConsentGiver::Guardian), &staff()));
    assert!(
        problems.0.iter().any(
            |p| p.field == "document.number" && matches!(p.kind, ProblemKind::BadFormat { .. })
        )
    );
}

#[test]
fn empty_optional_numbers_are_not_problems() {
    let mut d = adult();
    d.kra_pin = Some(String::new());
    d.nhif = None;
    assert_eq!(
        check(&d, &consent(ConsentGiver::Applicant), &staff()),
        Ok(())
    );
}

#[test]
fn the_sub_county_must_belong_to_the_county() {
    let mut d = adult();
    d.residence.county = 1;
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    assert!(problems.has(
        "residence.sub_county",
        &ProblemKind::SubCountyNotInCounty { county: "Mombasa" }
    ));
    d.residence.county = 48;
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    assert!(problems.has("residence.county", &ProblemKind::UnknownCounty));
}

#[test]
fn every_finger_is_captured_or_excused_and_excuses_need_a_supervisor() {
    let mut fingers = all_captured();
    fingers[1].1 = FingerStatus::Exception(FingerException::Amputated);
    fingers.pop();
    fingers.push((FingerPosition::RightThumb, FingerStatus::Captured));
    let problems = problems_of(check_with_fingers(
        &adult(),
        &consent(ConsentGiver::Applicant),
        &staff(),
        &fingers,
    ));
    assert!(problems.has("fingerprints.left_little", &ProblemKind::FingerMissing));
    assert!(problems.has("fingerprints.right_thumb", &ProblemKind::FingerRepeated));
    assert!(problems.has("staff.supervisor", &ProblemKind::SupervisorRequired));

    let mut fingers = all_captured();
    fingers[1].1 = FingerStatus::Exception(FingerException::Amputated);
    let supervised = Staff {
        supervisor: Some("SUP-7".into()),
        ..staff()
    };
    assert_eq!(
        check_with_fingers(
            &adult(),
            &consent(ConsentGiver::Applicant),
            &supervised,
            &fingers
        ),
        Ok(())
    );
    // The operator cannot sign off their own work.
    let own = Staff {
        supervisor: Some("OP-0042".into()),
        ..staff()
    };
    let problems = problems_of(check_with_fingers(
        &adult(),
        &consent(ConsentGiver::Applicant),
        &own,
        &fingers,
    ));
    assert!(problems.has("staff.supervisor", &ProblemKind::SupervisorIsOperator));
}

#[test]
fn consent_must_be_given() {
    let mut c = consent(ConsentGiver::Applicant);
    c.given = false;
    c.language = "fr".into();
    let problems = problems_of(check(&adult(), &c, &staff()));
    assert!(problems.has("consent.given", &ProblemKind::ConsentNotGiven));
    assert!(problems.has("consent.language", &ProblemKind::UnknownLanguage));
}

#[test]
fn names_refuse_digits_and_length() {
    let mut d = adult();
    d.names.surname = "W4njiku".into();
    d.names.first_name = "A".repeat(61);
    d.names.other_names = Some("O'Brien Ng’ang’a".into());
    let problems = problems_of(check(&d, &consent(ConsentGiver::Applicant), &staff()));
    assert!(problems.has("names.surname", &ProblemKind::InvalidCharacters));
    assert!(problems.has("names.first_name", &ProblemKind::TooLong { max: 60 }));
    assert!(!problems.names("names.other_names"));
}

#[test]
fn every_problem_is_reported_at_once_in_both_languages() {
    let mut d = child(date!(2021 - 01 - 01));
    d.guardians.clear();
    d.names.surname = String::new();
    d.residence.sub_county = "Westlands".into();
    d.residence.county = 3;
    d.ethnic_group = String::new();
    let mut c = consent(ConsentGiver::Applicant);
    c.given = false;
    let s = Staff {
        operator: String::new(),
        supervisor: None,
        approval: None,
    };
    let problems = problems_of(check_with_fingers(&d, &c, &s, &[]));
    let fields: Vec<&str> = problems.0.iter().map(|p| p.field.as_str()).collect();
    for expected in [
        "names.surname",
        "date_of_birth",
        "guardians",
        "ethnic_group",
        "residence.sub_county",
        "fingerprints.right_thumb",
        "fingerprints.left_little",
        "consent.given",
        "consent.given_by",
        "staff.operator",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert_eq!(problems.0.len(), 18, "{problems}");
    for problem in &problems.0 {
        let english = problem.message(Language::English);
        let swahili = problem.message(Language::Kiswahili);
        assert!(!english.is_empty() && !swahili.is_empty());
        assert_ne!(english, swahili, "{}", problem.field);
    }
}

#[test]
fn the_schema_has_no_field_for_dna_or_coordinates() {
    let json = match serde_json::to_value(adult()) {
        Ok(json) => json,
        Err(error) => panic!("serialise: {error}"),
    };
    let mut keys = Vec::new();
    collect_keys(&json, &mut keys);
    assert!(keys.len() > 20, "{keys:?}");
    for key in &keys {
        let key = key.to_lowercase();
        for banned in ["dna", "gps", "lat", "lon", "coord", "geo", "position"] {
            assert!(!key.contains(banned), "field {key} could hold {banned}");
        }
    }
    for smuggled in ["dna_sample", "gps", "latitude"] {
        let mut with_extra = json.clone();
        if let Some(object) = with_extra.as_object_mut() {
            object.insert(smuggled.into(), serde_json::json!("x"));
        }
        let parsed: Result<Demographics, _> = serde_json::from_value(with_extra);
        assert!(parsed.is_err(), "{smuggled} was accepted");
    }
}

fn collect_keys(value: &serde_json::Value, keys: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                keys.push(key.clone());
                collect_keys(inner, keys);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_keys(v, keys)),
        _ => {}
    }
}
