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
            introducer_name: None,
            mrz: None,
        },
        date_of_birth,
        guardians: vec![Guardian {
            relationship: Relationship::Mother,
            full_name: "Grace Atieno".into(),
            id_number: Some("23456789".into()),
            registration_number: None,
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
        official: None,
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
        introducer_name: None,
        mrz: None,
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
        introducer_name: None,
        mrz: None,
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
        introducer_name: None,
        mrz: None,
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
            introducer_name: None,
            mrz: None,
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
        registration_number: None,
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
        official: None,
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

// Issue 19: the assisted routes of prisons and hospitals.

fn held_by(kind: DocumentType, number: &str) -> Demographics {
    let mut d = adult();
    d.document = IdentityDocument {
        kind,
        number: number.into(),
        nationality: None,
        introducer_name: None,
        mrz: None,
    };
    d
}

fn route_check(
    d: &Demographics,
    s: &Staff,
    fingers: &[(FingerPosition, FingerStatus)],
    photo: Option<&PhotoOverride>,
) -> Result<(), Problems> {
    validate(
        &Application {
            demographics: d,
            consent: &consent(ConsentGiver::Applicant),
            staff: s,
            fingers,
            photo_override: photo,
        },
        TODAY,
    )
}

#[test]
fn a_document_held_by_a_prison_needs_an_officials_sign_off_from_another_person() {
    let d = held_by(DocumentType::PrisonNumber, "KAM/2026/0142");
    let fingers = all_captured();
    let problems = problems_of(route_check(&d, &staff(), &fingers, None));
    assert!(problems.has("staff.official", &ProblemKind::OfficialRequired));

    let own = Staff {
        official: Some("OP-0042".into()),
        ..staff()
    };
    let problems = problems_of(route_check(&d, &own, &fingers, None));
    assert!(problems.has("staff.official", &ProblemKind::OfficialIsOperator));

    let signed = Staff {
        official: Some("OFF-3001".into()),
        ..staff()
    };
    assert_eq!(route_check(&d, &signed, &fingers, None), Ok(()));

    // The reference is the prison's own form of number, not just anything.
    let scrawl = held_by(DocumentType::PrisonNumber, "no number");
    let problems = problems_of(route_check(&scrawl, &signed, &fingers, None));
    assert!(problems.names("document.number"));
}

#[test]
fn self_service_takes_no_institution_route_no_introducer_and_no_photo_override() {
    let alone = Staff {
        operator: SELF_SERVICE.into(),
        official: Some("OFF-3001".into()),
        supervisor: Some("SUP-7".into()),
        approval: None,
    };
    let fingers = all_captured();
    let d = held_by(DocumentType::HospitalFile, "KNH-0042317");
    let problems = problems_of(route_check(&d, &alone, &fingers, None));
    assert!(problems.has("document.kind", &ProblemKind::AssistedOnly));

    let photo = PhotoOverride {
        failed: vec![FaceCheck::BackgroundPlain],
        reason: Some(PhotoOverrideReason::LyingDown),
    };
    let problems = problems_of(route_check(&adult(), &alone, &fingers, Some(&photo)));
    assert!(problems.has("photo_override", &ProblemKind::AssistedOnly));
}

#[test]
fn an_introducer_is_a_registered_person_with_a_name() {
    let number = crate::record::RegistrationNumber {
        device: crate::record::DeviceId::from_digest(&[7; 32]),
        seq: 41,
    }
    .to_string();
    let mut d = held_by(DocumentType::Introducer, &number);
    d.document.introducer_name = Some("Juma Mwangi".into());
    let fingers = all_captured();
    assert_eq!(route_check(&d, &staff(), &fingers, None), Ok(()));

    // One symbol mistyped: the check symbol catches it.
    let mut typo = number.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    d.document.number = String::from_utf8(typo).unwrap_or_default();
    d.document.introducer_name = None;
    let problems = problems_of(route_check(&d, &staff(), &fingers, None));
    assert!(problems.names("document.number"));
    assert!(problems.has("document.introducer_name", &ProblemKind::Required));
}

#[test]
fn a_photo_override_needs_its_checks_a_reason_and_a_supervisor() {
    let fingers = all_captured();
    let bare = PhotoOverride {
        failed: vec![],
        reason: None,
    };
    let problems = problems_of(route_check(&adult(), &staff(), &fingers, Some(&bare)));
    assert!(problems.has(
        "photo_override.failed",
        &ProblemKind::OverrideChecksRequired
    ));
    assert!(problems.has(
        "photo_override.reason",
        &ProblemKind::OverrideReasonRequired
    ));
    assert!(problems.has("staff.supervisor", &ProblemKind::OverrideSupervisorRequired));

    let whole = PhotoOverride {
        failed: vec![FaceCheck::Roll, FaceCheck::BackgroundPlain],
        reason: Some(PhotoOverrideReason::LyingDown),
    };
    let supervised = Staff {
        supervisor: Some("SUP-7".into()),
        ..staff()
    };
    assert_eq!(
        route_check(&adult(), &supervised, &fingers, Some(&whole)),
        Ok(())
    );
}

#[test]
fn a_finger_temporarily_unable_comes_back_on_a_later_day_within_a_year() {
    let supervised = Staff {
        supervisor: Some("SUP-7".into()),
        ..staff()
    };
    let with = |return_on: Date| {
        let mut fingers = all_captured();
        fingers[6].1 = FingerStatus::Exception(FingerException::TemporarilyUnable { return_on });
        route_check(&adult(), &supervised, &fingers, None)
    };
    assert_eq!(with(date!(2026 - 12 - 09)), Ok(()));
    for past in [date!(2026 - 11 - 24), TODAY] {
        let problems = problems_of(with(past));
        assert!(
            problems.has("fingerprints.left_index", &ProblemKind::ReturnDateNotLater),
            "{past}"
        );
    }
    let problems = problems_of(with(date!(2028 - 01 - 01)));
    assert!(problems.has("fingerprints.left_index", &ProblemKind::ReturnDateTooFar));
}

#[test]
fn a_route_is_refused_where_the_centre_does_not_offer_it() {
    use crate::policy::CentreKind;
    let fingers = all_captured();
    let staff = staff();
    let at = |d: &Demographics, photo: Option<&PhotoOverride>, kind| {
        check_centre(
            &Application {
                demographics: d,
                consent: &consent(ConsentGiver::Applicant),
                staff: &staff,
                fingers: &fingers,
                photo_override: photo,
            },
            kind,
        )
    };
    let prison = held_by(DocumentType::PrisonNumber, "KAM/2026/0142");
    let hospital = held_by(DocumentType::HospitalFile, "KNH-0042317");
    let photo = PhotoOverride {
        failed: vec![FaceCheck::BackgroundPlain],
        reason: Some(PhotoOverrideReason::NoPlainBackground),
    };
    assert_eq!(at(&prison, None, CentreKind::Prison), Ok(()));
    assert_eq!(at(&hospital, Some(&photo), CentreKind::Hospital), Ok(()));
    assert_eq!(at(&adult(), None, CentreKind::PublicOffice), Ok(()));
    for (d, photo, kind, field) in [
        (&prison, None, CentreKind::PublicOffice, "document.kind"),
        (&prison, None, CentreKind::Hospital, "document.kind"),
        (&hospital, None, CentreKind::Prison, "document.kind"),
        (&hospital, None, CentreKind::PublicOffice, "document.kind"),
        (&adult(), Some(&photo), CentreKind::Prison, "photo_override"),
        (
            &adult(),
            Some(&photo),
            CentreKind::PublicOffice,
            "photo_override",
        ),
    ] {
        let problems = problems_of(at(d, photo, kind));
        assert!(
            problems.has(field, &ProblemKind::NotAtThisCentre),
            "{kind} {field}"
        );
    }
    // An introducer is a route for any centre.
    let mut introduced = held_by(DocumentType::Introducer, "HWSA-QAY5-0001-M");
    introduced.document.introducer_name = Some("Juma Mwangi".into());
    assert_eq!(at(&introduced, None, CentreKind::PublicOffice), Ok(()));
}

#[test]
fn records_from_before_the_routes_read_as_before() {
    // The fields issue 19 adds are all optional: a record written without them reads back.
    let json = r#"{"operator": "OP-0042", "supervisor": "SUP-7"}"#;
    let staff: Staff = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(staff.official, None);
    let exception: FingerException =
        serde_json::from_str(r#"{"temporarily_unable": {"return_on": "2026-12-09"}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        exception,
        FingerException::TemporarilyUnable {
            return_on: date!(2026 - 12 - 09)
        }
    );
    assert_eq!(
        serde_json::to_string(&FingerException::Injured)
            .ok()
            .as_deref(),
        Some(r#""injured""#)
    );
}
