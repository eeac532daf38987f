//! The rules a form must pass before it can be sealed.
//!
//! `validate` collects every problem at once, so the person fixes everything in one pass
//! instead of meeting the problems one at a time.

use time::Date;

use super::counties;
use super::countries;
use super::formats::{self, Format};
use super::problems::{Problem, ProblemKind, Problems};
use super::schema::{AmendmentReason, Relationship};
use super::schema::{
    Citizenship, Consent, ConsentGiver, Demographics, DocumentType, FingerException,
    FingerPosition, PhotoOverride, SELF_SERVICE, Staff,
};
use crate::policy::CentreKind;
use crate::record::{RegistrationNumber, RegistrationNumberError};

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
    /// The photo's checks overridden at the bedside, if they were.
    pub photo_override: Option<&'a PhotoOverride>,
}

/// Longest time a finger may wait to be printed on a later visit, days.
pub const RETURN_WITHIN_DAYS: i64 = 366;

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
    check_place_of_birth(d, &mut problems);
    check_guardians(d, age, &mut problems);
    check_text("ethnic_group", &d.ethnic_group, true, &mut problems);
    check_residence(d, &mut problems);
    check_text_option("land_reference", &d.land_reference, &mut problems);
    check_text_option("house_number", &d.house_number, &mut problems);
    check_number_option("nssf", &d.nssf, formats::NSSF, &mut problems);
    check_number_option("nhif", &d.nhif, formats::NHIF, &mut problems);
    check_number_option("kra_pin", &d.kra_pin, formats::KRA_PIN, &mut problems);
    check_amendment(d, &mut problems);
    check_fingers(application, &mut problems);
    check_return_dates(application, capture_date, &mut problems);
    check_assisted_routes(application, &mut problems);
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

/// Checks what only some kinds of centre offer: a prison's number only in a prison, a
/// hospital's file number and a bedside photo only in a hospital. The registry and the kiosk
/// call it with the centre's kind as the fleet policy gives it (a public office without one).
pub fn check_centre(application: &Application<'_>, kind: CentreKind) -> Result<(), Problems> {
    let mut problems = Vec::new();
    let offered = match application.demographics.document.kind {
        DocumentType::PrisonNumber => kind == CentreKind::Prison,
        DocumentType::HospitalFile => kind == CentreKind::Hospital,
        _ => true,
    };
    if !offered {
        problems.push(Problem::new("document.kind", ProblemKind::NotAtThisCentre));
    }
    if application.photo_override.is_some() && kind != CentreKind::Hospital {
        problems.push(Problem::new("photo_override", ProblemKind::NotAtThisCentre));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

fn check_return_dates(application: &Application<'_>, capture: Date, problems: &mut Vec<Problem>) {
    let latest = capture.checked_add(time::Duration::days(RETURN_WITHIN_DAYS));
    for (position, status) in application.fingers {
        if let FingerStatus::Exception(FingerException::TemporarilyUnable { return_on }) = status {
            let field = format!("fingerprints.{}", position.name());
            if *return_on <= capture {
                problems.push(Problem::new(field, ProblemKind::ReturnDateNotLater));
            } else if latest.is_some_and(|latest| *return_on > latest) {
                problems.push(Problem::new(field, ProblemKind::ReturnDateTooFar));
            }
        }
    }
}

/// The routes an operator may take where the usual cannot be followed: an institution's
/// reference or an introducer in place of a document, a photo whose checks failed. Each is
/// for assisted enrolment only and each needs a second person's sign-off.
fn check_assisted_routes(application: &Application<'_>, problems: &mut Vec<Problem>) {
    let staff = application.staff;
    let operator = staff.operator.trim();
    let self_service = operator == SELF_SERVICE;
    let kind = application.demographics.document.kind;
    if kind.stands_in() && self_service {
        problems.push(Problem::new("document.kind", ProblemKind::AssistedOnly));
    }
    let official = staff.official.as_deref().map_or("", str::trim);
    if kind.held_by_institution() {
        if official.is_empty() {
            problems.push(Problem::new(
                "staff.official",
                ProblemKind::OfficialRequired,
            ));
        } else if official == operator {
            problems.push(Problem::new(
                "staff.official",
                ProblemKind::OfficialIsOperator,
            ));
        }
    }
    if let Some(photo) = application.photo_override {
        if self_service {
            problems.push(Problem::new("photo_override", ProblemKind::AssistedOnly));
        }
        if photo.failed.is_empty() {
            problems.push(Problem::new(
                "photo_override.failed",
                ProblemKind::OverrideChecksRequired,
            ));
        }
        if photo.reason.is_none() {
            problems.push(Problem::new(
                "photo_override.reason",
                ProblemKind::OverrideReasonRequired,
            ));
        }
        if staff
            .supervisor
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
        {
            problems.push(Problem::new(
                "staff.supervisor",
                ProblemKind::OverrideSupervisorRequired,
            ));
        }
    }
}

fn check_document(d: &Demographics, problems: &mut Vec<Problem>) {
    let document = &d.document;
    let for_citizens = matches!(
        document.kind,
        DocumentType::BirthCertificate | DocumentType::NationalId | DocumentType::DrivingLicence
    );
    // An institution's reference or an introducer stands in for citizen and foreigner alike.
    if !document.kind.stands_in() && for_citizens != (d.citizenship == Citizenship::Kenyan) {
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
        DocumentType::RefugeeId => formats::REFUGEE_ID,
        DocumentType::UnhcrDocument => formats::UNHCR_DOCUMENT,
        DocumentType::PrisonNumber | DocumentType::HospitalFile => formats::INSTITUTION_REFERENCE,
        DocumentType::Introducer => formats::REGISTRATION_NUMBER,
    };
    check_number("document.number", &document.number, format, problems);
    if document.kind == DocumentType::Introducer {
        let name = document.introducer_name.as_deref().unwrap_or("");
        check_name("document.introducer_name", name, true, problems);
    }
    // Only a passport has the zone; an empty line is a line not typed.
    if let Some(line) = document
        .mrz
        .as_deref()
        .filter(|line| !line.trim().is_empty())
    {
        let kind = if document.kind != DocumentType::Passport {
            Some(ProblemKind::MrzNotAPassport)
        } else {
            // A date of birth that is no date has its own problem: compare the number alone.
            let born = (d.date_of_birth != Date::MIN).then_some(d.date_of_birth);
            super::mrz::check(line, &document.number, born)
                .err()
                .map(|error| match error {
                    super::mrz::MrzError::BadFormat => ProblemKind::MrzBadFormat,
                    super::mrz::MrzError::CheckDigit(part) => ProblemKind::MrzCheckDigit { part },
                    super::mrz::MrzError::Disagrees(part) => ProblemKind::MrzDisagrees { part },
                })
        };
        if let Some(kind) = kind {
            problems.push(Problem::new("document.mrz", kind));
        }
    }
    if d.citizenship == Citizenship::Foreigner {
        match document.nationality.as_deref().map(str::trim) {
            None | Some("KEN") => problems.push(Problem::new(
                "document.nationality",
                ProblemKind::NationalityRequired,
            )),
            Some(code) if !formats::NATIONALITY.accepts(code) => problems.push(Problem::new(
                "document.nationality",
                ProblemKind::NationalityRequired,
            )),
            // Three capitals are not enough: the code must name a country.
            Some(code) if countries::country(code).is_none() => problems.push(Problem::new(
                "document.nationality",
                ProblemKind::UnknownCountry,
            )),
            Some(_) => {}
        }
    }
}

fn check_place_of_birth(d: &Demographics, problems: &mut Vec<Problem>) {
    let place = d.place_of_birth.as_ref();
    let county = place.and_then(|p| p.county);
    let country = place
        .and_then(|p| p.country.as_deref())
        .map(str::trim)
        .filter(|c| !c.is_empty());
    match (county, country) {
        (None, None) => {
            // The box the person is shown: a county for citizens, a country for foreigners.
            let field = match d.citizenship {
                Citizenship::Kenyan => "place_of_birth.county",
                Citizenship::Foreigner => "place_of_birth.country",
            };
            problems.push(Problem::new(field, ProblemKind::Required));
        }
        (Some(_), Some(_)) => problems.push(Problem::new(
            "place_of_birth.country",
            ProblemKind::PlaceOfBirthTwice,
        )),
        (Some(code), None) => {
            if counties::county(code).is_none() {
                problems.push(Problem::new(
                    "place_of_birth.county",
                    ProblemKind::UnknownCounty,
                ));
            }
        }
        (None, Some("KEN")) => problems.push(Problem::new(
            "place_of_birth.country",
            ProblemKind::BornInKenyaGiveCounty,
        )),
        (None, Some(code)) => {
            if countries::country(code).is_none() {
                problems.push(Problem::new(
                    "place_of_birth.country",
                    ProblemKind::UnknownCountry,
                ));
            }
        }
    }
}

/// A registration number typed by a person: a mistyped symbol is named as such, anything
/// else that does not parse as a badly formed number.
fn check_registration_number(field: &str, value: &str, problems: &mut Vec<Problem>) {
    let value = value.trim();
    if value.is_empty() {
        problems.push(Problem::new(field, ProblemKind::Required));
        return;
    }
    match RegistrationNumber::parse(value) {
        Ok(_) => {}
        Err(RegistrationNumberError::CheckFailed) => {
            problems.push(Problem::new(field, ProblemKind::RegistrationNumberMistyped))
        }
        Err(_) => problems.push(Problem::new(
            field,
            ProblemKind::BadFormat {
                example: formats::REGISTRATION_NUMBER.example,
            },
        )),
    }
}

fn check_amendment(d: &Demographics, problems: &mut Vec<Problem>) {
    let Some(amendment) = &d.amendment else {
        return;
    };
    check_registration_number("amendment.amends", &amendment.amends, problems);
    if amendment.fields.is_empty() {
        problems.push(Problem::new("amendment.fields", ProblemKind::Required));
    }
    let mut seen = amendment.fields.clone();
    seen.sort();
    if seen.windows(2).any(|pair| pair[0] == pair[1]) {
        problems.push(Problem::new(
            "amendment.fields",
            ProblemKind::AmendedFieldRepeated,
        ));
    }
    match amendment.reason {
        None => problems.push(Problem::new("amendment.reason", ProblemKind::Required)),
        Some(AmendmentReason::Other)
            if amendment
                .details
                .as_deref()
                .is_none_or(|t| t.trim().is_empty()) =>
        {
            problems.push(Problem::new(
                "amendment.details",
                ProblemKind::AmendmentDetailsRequired,
            ));
        }
        Some(_) => {}
    }
    if let Some(details) = &amendment.details {
        check_text("amendment.details", details, false, problems);
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
        if let Some(number) = &guardian.registration_number {
            let field = format!("guardians[{index}].registration_number");
            check_registration_number(&field, number, problems);
        }
    }
    if d.guardians.len() > 2 {
        problems.push(Problem::new("guardians", ProblemKind::TooManyGuardians));
    }
    for parent in [Relationship::Father, Relationship::Mother] {
        let mut same = d
            .guardians
            .iter()
            .enumerate()
            .filter(|(_, g)| g.relationship == parent);
        if let (Some(_), Some((index, _))) = (same.next(), same.next()) {
            problems.push(Problem::new(
                format!("guardians[{index}].relationship"),
                ProblemKind::RelationshipRepeated,
            ));
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
mod people_tests;
#[cfg(test)]
mod tests;
