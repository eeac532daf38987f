//! The rules a form must pass before it can be sealed.
//!
//! `validate` collects every problem at once, so the person fixes everything in one pass
//! instead of meeting the problems one at a time.

use time::Date;

use super::counties;
use super::formats::{self, Format};
use super::problems::{Problem, ProblemKind, Problems};
use super::schema::{
    Citizenship, Consent, ConsentGiver, Demographics, DocumentType, FingerException,
    FingerPosition, Staff,
};

/// Youngest age at which a person may enrol.
pub const MINIMUM_AGE: i32 = 6;
/// Age from which a person consents for themselves and needs no guardian.
pub const AGE_OF_MAJORITY: i32 = 18;
const NAME_MAX: usize = 60;
const TEXT_MAX: usize = 80;

/// Whether a finger was captured or recorded as an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerStatus {
    /// An image was captured.
    Captured,
    /// No image, for this reason.
    Exception(FingerException),
}

/// What the rules look at: the form, without the images themselves.
#[derive(Debug, Clone, Copy)]
pub struct Application<'a> {
    /// The applicant's details.
    pub demographics: &'a Demographics,
    /// The consent given.
    pub consent: &'a Consent,
    /// Operator and supervisor.
    pub staff: &'a Staff,
    /// Each finger's status, in any order.
    pub fingers: &'a [(FingerPosition, FingerStatus)],
}

/// Age in whole years on `on`. A person born on 29 February turns a year older on 1 March in
/// common years.
pub fn age_on(date_of_birth: Date, on: Date) -> i32 {
    let mut age = on.year() - date_of_birth.year();
    if (on.month() as u8, on.day()) < (date_of_birth.month() as u8, date_of_birth.day()) {
        age -= 1;
    }
    age
}

/// Checks every rule against `application` as captured on `capture_date`.
///
/// Returns every problem found, each naming its field; `Ok` means the form may be sealed.
pub fn validate(application: &Application<'_>, capture_date: Date) -> Result<(), Problems> {
    let mut problems = Vec::new();
    let d = application.demographics;
    let age = age_on(d.date_of_birth, capture_date);

    check_document(d, &mut problems);
    check_name("names.surname", &d.names.surname, true, &mut problems);
    check_name("names.first_name", &d.names.first_name, true, &mut problems);
    if let Some(other) = &d.names.other_names {
        check_name("names.other_names", other, false, &mut problems);
    }
    if d.date_of_birth > capture_date {
        problems.push(Problem::new("date_of_birth", ProblemKind::BornInFuture));
    } else if age < MINIMUM_AGE {
        problems.push(Problem::new("date_of_birth", ProblemKind::TooYoung { age }));
    }
    check_guardians(d, age, &mut problems);
    check_text("ethnic_group", &d.ethnic_group, true, &mut problems);
    check_residence(d, &mut problems);
    check_text_option("land_reference", &d.land_reference, &mut problems);
    check_text_option("house_number", &d.house_number, &mut problems);
    check_number_option("nssf", &d.nssf, formats::NSSF, &mut problems);
    check_number_option("nhif", &d.nhif, formats::NHIF, &mut problems);
    check_number_option("kra_pin", &d.kra_pin, formats::KRA_PIN, &mut problems);
    check_fingers(application, &mut problems);
    check_consent(application.consent, age, &mut problems);
    check_text(
        "staff.operator",
        &application.staff.operator,
        true,
        &mut problems,
    );

    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

fn check_document(d: &Demographics, problems: &mut Vec<Problem>) {
    let document = &d.document;
    let for_citizens = matches!(
        document.kind,
        DocumentType::BirthCertificate | DocumentType::NationalId | DocumentType::DrivingLicence
    );
    if for_citizens != (d.citizenship == Citizenship::Kenyan) {
        problems.push(Problem::new(
            "document.kind",
            ProblemKind::DocumentNotForCitizenship,
        ));
    }
    let format = match document.kind {
        DocumentType::BirthCertificate => formats::BIRTH_CERTIFICATE,
        DocumentType::NationalId => formats::NATIONAL_ID,
        DocumentType::DrivingLicence => formats::DRIVING_LICENCE,
        DocumentType::AlienId => formats::ALIEN_ID,
        DocumentType::Passport => formats::PASSPORT,
    };
    check_number("document.number", &document.number, format, problems);
    if d.citizenship == Citizenship::Foreigner {
        let valid = document
            .nationality
            .as_deref()
            .is_some_and(|n| formats::NATIONALITY.accepts(n) && n != "KEN");
        if !valid {
            problems.push(Problem::new(
                "document.nationality",
                ProblemKind::NationalityRequired,
            ));
        }
    }
}

fn check_guardians(d: &Demographics, age: i32, problems: &mut Vec<Problem>) {
    for (index, guardian) in d.guardians.iter().enumerate() {
        let field = format!("guardians[{index}].full_name");
        check_name(&field, &guardian.full_name, true, problems);
        if let Some(id) = &guardian.id_number {
            let field = format!("guardians[{index}].id_number");
            check_number(&field, id, formats::NATIONAL_ID, problems);
        }
    }
    let has_named = d.guardians.iter().any(|g| !g.full_name.trim().is_empty());
    if age < AGE_OF_MAJORITY && !has_named {
        problems.push(Problem::new("guardians", ProblemKind::GuardianRequired));
    }
}

fn check_residence(d: &Demographics, problems: &mut Vec<Problem>) {
    let residence = &d.residence;
    match counties::county(residence.county) {
        None => problems.push(Problem::new("residence.county", ProblemKind::UnknownCounty)),
        Some(county) => {
            if residence.sub_county.trim().is_empty() {
                problems.push(Problem::new("residence.sub_county", ProblemKind::Required));
            } else if !counties::has_sub_county(county.code, &residence.sub_county) {
                problems.push(Problem::new(
                    "residence.sub_county",
                    ProblemKind::SubCountyNotInCounty {
                        county: county.name,
                    },
                ));
            }
        }
    }
    check_text("residence.location", &residence.location, true, problems);
}

fn check_fingers(application: &Application<'_>, problems: &mut Vec<Problem>) {
    let mut seen = [0u8; 10];
    for (position, _) in application.fingers {
        seen[*position as usize - 1] += 1;
    }
    for position in FingerPosition::ALL {
        let field = format!("fingerprints.{}", position.name());
        match seen[position as usize - 1] {
            0 => problems.push(Problem::new(field, ProblemKind::FingerMissing)),
            1 => {}
            _ => problems.push(Problem::new(field, ProblemKind::FingerRepeated)),
        }
    }
    let any_exception = application
        .fingers
        .iter()
        .any(|(_, status)| matches!(status, FingerStatus::Exception(_)));
    let supervisor = application.staff.supervisor.as_deref().unwrap_or("");
    if any_exception && supervisor.trim().is_empty() {
        problems.push(Problem::new(
            "staff.supervisor",
            ProblemKind::SupervisorRequired,
        ));
    }
    // A sign-off is a second person's check; the operator cannot give it to themself.
    if !supervisor.trim().is_empty() && supervisor.trim() == application.staff.operator.trim() {
        problems.push(Problem::new(
            "staff.supervisor",
            ProblemKind::SupervisorIsOperator,
        ));
    }
}

fn check_consent(consent: &Consent, age: i32, problems: &mut Vec<Problem>) {
    if !consent.given {
        problems.push(Problem::new("consent.given", ProblemKind::ConsentNotGiven));
    }
    if age < AGE_OF_MAJORITY && consent.given_by != ConsentGiver::Guardian {
        problems.push(Problem::new(
            "consent.given_by",
            ProblemKind::GuardianConsentRequired,
        ));
    }
    check_text(
        "consent.text_version",
        &consent.text_version,
        true,
        problems,
    );
    if !matches!(consent.language.as_str(), "en" | "sw") {
        problems.push(Problem::new(
            "consent.language",
            ProblemKind::UnknownLanguage,
        ));
    }
}

fn check_name(field: &str, value: &str, required: bool, problems: &mut Vec<Problem>) {
    let value = value.trim();
    if value.is_empty() {
        if required {
            problems.push(Problem::new(field, ProblemKind::Required));
        }
    } else if value.chars().count() > NAME_MAX {
        problems.push(Problem::new(field, ProblemKind::TooLong { max: NAME_MAX }));
    } else if !value
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’'))
    {
        problems.push(Problem::new(field, ProblemKind::InvalidCharacters));
    }
}

fn check_text(field: &str, value: &str, required: bool, problems: &mut Vec<Problem>) {
    let value = value.trim();
    if value.is_empty() {
        if required {
            problems.push(Problem::new(field, ProblemKind::Required));
        }
    } else if value.chars().count() > TEXT_MAX {
        problems.push(Problem::new(field, ProblemKind::TooLong { max: TEXT_MAX }));
    } else if value.chars().any(char::is_control) {
        problems.push(Problem::new(field, ProblemKind::InvalidCharacters));
    }
}

fn check_text_option(field: &str, value: &Option<String>, problems: &mut Vec<Problem>) {
    if let Some(value) = value {
        check_text(field, value, false, problems);
    }
}

fn check_number(field: &str, value: &str, format: Format, problems: &mut Vec<Problem>) {
    let value = value.trim();
    if value.is_empty() {
        problems.push(Problem::new(field, ProblemKind::Required));
    } else if !format.accepts(value) {
        problems.push(Problem::new(
            field,
            ProblemKind::BadFormat {
                example: format.example,
            },
        ));
    }
}

fn check_number_option(
    field: &str,
    value: &Option<String>,
    format: Format,
    problems: &mut Vec<Problem>,
) {
    if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
        check_number(field, value, format, problems);
    }
}

#[cfg(test)]
mod tests;
