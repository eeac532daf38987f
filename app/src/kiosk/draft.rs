//! The enrolment in progress: what the person has entered so far, as entered, and how it
//! becomes a record. It is journalled after every step, so it holds everything a screen shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Month};

use super::fields::{Field, Page};
use crate::biometrics::Image;
use crate::form::{
    Amendment, Citizenship, Consent, ConsentGiver, Demographics, FingerException, FingerPosition,
    Guardian, IdentityDocument, Names, PhotoOverride, PlaceOfBirth, Problem, ProblemKind, Problems,
    Residence, Staff, validate,
};
use crate::record::{Enrolment, FingerCapture, FingerRecord, FingerShown};

/// Identifies the consent text the screens show; bump it when the words change.
pub const CONSENT_TEXT_VERSION: &str = "niims-consent-2026-2";

/// Assisted by an operator, or the applicant alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// An operator runs the kiosk for the applicant.
    Assisted,
    /// The applicant uses the kiosk alone; it wipes itself when left idle.
    SelfService,
}

/// One finger's captures so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerSlot {
    /// Which finger.
    pub position: FingerPosition,
    /// The best attempt so far (WSQ) and its quality score.
    pub best: Option<(Image, u8)>,
    /// Attempts made.
    pub attempts: u8,
    /// Recorded as not capturable, and why.
    pub exception: Option<FingerException>,
}

impl FingerSlot {
    /// Whether the finger needs nothing more.
    pub fn done(&self, attempts_allowed: u8, accept: u8) -> bool {
        self.exception.is_some()
            || self.attempts >= attempts_allowed
            || self
                .best
                .as_ref()
                .is_some_and(|(_, score)| *score >= accept)
    }
}

/// Everything entered so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// `en` or `sw`.
    pub language: String,
    /// Who consented; `None` until someone agreed.
    pub consent: Option<ConsentGiver>,
    /// Assisted or self-service, once chosen.
    pub mode: Option<Mode>,
    /// The operator's staff number (assisted mode).
    pub operator: Option<String>,
    /// The supervisor's staff number, once they signed off.
    pub supervisor: Option<String>,
    /// What the supervisor approved ([`Draft::approval_digest`] when they signed in); a draft
    /// whose biometrics no longer match has no sign-off.
    #[serde(default)]
    pub approval: Option<String>,
    /// The staff number of the institution's official who signed off its reference in place
    /// of the applicant's document.
    #[serde(default)]
    pub official: Option<String>,
    /// The institution's reference the official signed off (`kind:number`); a draft whose
    /// reference no longer matches has no official's sign-off.
    #[serde(default)]
    pub official_covers: Option<String>,
    /// The photo was taken although these checks failed, for this reason (assisted, at a
    /// hospital's bedside); `None` for a photo taken by itself.
    #[serde(default)]
    pub photo_override: Option<PhotoOverride>,
    /// The form's fields as typed or chosen.
    pub values: BTreeMap<Field, String>,
    /// The accepted face photo (token image, JPEG).
    pub photo: Option<Image>,
    /// The identity document as photographed: cut out, checked and compressed (JPEG).
    #[serde(default)]
    pub document_photo: Option<Image>,
    /// The ten fingers, in standard order.
    pub fingers: Vec<FingerSlot>,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            language: "en".into(),
            consent: None,
            mode: None,
            operator: None,
            supervisor: None,
            approval: None,
            official: None,
            official_covers: None,
            photo_override: None,
            values: BTreeMap::new(),
            photo: None,
            document_photo: None,
            fingers: FingerPosition::ALL
                .into_iter()
                .map(|position| FingerSlot {
                    position,
                    best: None,
                    attempts: 0,
                    exception: None,
                })
                .collect(),
        }
    }
}

/// A closed-list value from its snake_case name.
fn parse_choice<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    serde_json::from_value(Value::String(value.to_owned())).ok()
}

/// A parent's number as typed into its one box: digits alone are a national ID number,
/// anything else a registration number (which has letters, or hyphens between its groups).
fn guardian_number(typed: &str) -> (Option<String>, Option<String>) {
    let typed = typed.trim();
    if typed.is_empty() {
        (None, None)
    } else if typed.bytes().all(|b| b.is_ascii_digit()) {
        (Some(typed.to_owned()), None)
    } else {
        (None, Some(typed.to_owned()))
    }
}

/// Toggles `id` in a comma-separated list of choices (a question with several answers).
pub fn toggle_choice(list: &str, id: &str) -> String {
    let mut items: Vec<&str> = list.split(',').filter(|i| !i.is_empty()).collect();
    match items.iter().position(|i| *i == id) {
        Some(at) => {
            items.remove(at);
        }
        None => items.push(id),
    }
    items.join(",")
}

/// Eight digits, day month year, as typed on the kiosk's keypad.
pub fn parse_date(digits: &str) -> Option<Date> {
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day: u8 = digits[0..2].parse().ok()?;
    let month: u8 = digits[2..4].parse().ok()?;
    let year: i32 = digits[4..8].parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// Shows typed date digits as `DD/MM/YYYY`, filling in the slashes as the person types.
pub fn show_date(digits: &str) -> String {
    let mut shown = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i == 2 || i == 4 {
            shown.push('/');
        }
        shown.push(c);
    }
    shown
}

impl Draft {
    /// A field's value, trimmed; empty when not entered.
    pub fn value(&self, field: Field) -> &str {
        self.values.get(&field).map_or("", |v| v.trim())
    }

    fn optional(&self, field: Field) -> Option<String> {
        let value = self.value(field);
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// The date of birth, when typed in full and real.
    pub fn date_of_birth(&self) -> Option<Date> {
        parse_date(self.value(Field::DateOfBirth))
    }

    /// The demographics as entered. Fields that are missing or unreadable get a stand-in value
    /// and a problem, so the rules can still look at everything else.
    pub fn demographics(&self) -> (Demographics, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut choice = |field: Field| -> Option<String> {
            let value = self.value(field);
            if value.is_empty() {
                problems.push(Problem::new(field.path(), ProblemKind::Required));
                None
            } else {
                Some(value.to_owned())
            }
        };
        let citizenship = choice(Field::Citizenship)
            .and_then(|v| parse_choice(&v))
            .unwrap_or(Citizenship::Kenyan);
        let kind = choice(Field::DocumentKind).and_then(|v| parse_choice(&v));
        let sex = choice(Field::Sex).and_then(|v| parse_choice(&v));
        let marital = choice(Field::MaritalStatus).and_then(|v| parse_choice(&v));
        let disability = choice(Field::Disability).and_then(|v| parse_choice(&v));
        let education = choice(Field::Education).and_then(|v| parse_choice(&v));
        let employment = choice(Field::Employment).and_then(|v| parse_choice(&v));
        let county = choice(Field::County).and_then(|v| v.parse::<u8>().ok());

        let date_of_birth = match self.date_of_birth() {
            Some(date) => date,
            None => {
                let kind = if self.value(Field::DateOfBirth).is_empty() {
                    ProblemKind::Required
                } else {
                    ProblemKind::BadFormat {
                        example: "17/04/2001",
                    }
                };
                problems.push(Problem::new(Field::DateOfBirth.path(), kind));
                Date::MIN
            }
        };
        let mut guardians = Vec::new();
        for (relationship, name, number) in [
            (
                Field::GuardianRelationship,
                Field::GuardianName,
                Field::GuardianId,
            ),
            (
                Field::Guardian2Relationship,
                Field::Guardian2Name,
                Field::Guardian2Id,
            ),
        ] {
            let full_name = self.value(name);
            if full_name.is_empty()
                && self.value(relationship).is_empty()
                && self.value(number).is_empty()
            {
                continue;
            }
            match parse_choice(self.value(relationship)) {
                Some(relationship) => {
                    let (id_number, registration_number) = guardian_number(self.value(number));
                    guardians.push(Guardian {
                        relationship,
                        full_name: full_name.to_owned(),
                        id_number,
                        registration_number,
                    });
                }
                None => problems.push(Problem::new(relationship.path(), ProblemKind::Required)),
            }
        }
        let place_of_birth = match (
            self.value(Field::BirthCounty).parse::<u8>().ok(),
            self.optional(Field::BirthCountry),
        ) {
            (None, None) => None,
            (county, country) => Some(PlaceOfBirth { county, country }),
        };
        let amendment = (self.value(Field::Purpose) == "correction").then(|| Amendment {
            amends: self.value(Field::Amends).to_owned(),
            fields: self
                .value(Field::AmendedFields)
                .split(',')
                .filter_map(|f| parse_choice(f.trim()))
                .collect(),
            reason: parse_choice(self.value(Field::AmendReason)),
            details: self.optional(Field::AmendDetails),
        });
        let demographics = Demographics {
            citizenship,
            document: IdentityDocument {
                kind: kind.unwrap_or(crate::form::DocumentType::NationalId),
                number: self.value(Field::DocumentNumber).to_owned(),
                nationality: self.optional(Field::Nationality),
                // Only the introducer route names one; a name left from another choice is not
                // recorded.
                introducer_name: (self.value(Field::DocumentKind) == "introducer")
                    .then(|| self.optional(Field::IntroducerName))
                    .flatten(),
                // Only a passport has the zone; a line left from another choice is not kept.
                mrz: (self.value(Field::DocumentKind) == "passport")
                    .then(|| self.optional(Field::Mrz))
                    .flatten(),
            },
            names: Names {
                surname: self.value(Field::Surname).to_owned(),
                first_name: self.value(Field::FirstName).to_owned(),
                other_names: self.optional(Field::OtherNames),
            },
            date_of_birth,
            sex: sex.unwrap_or(crate::form::Sex::Female),
            place_of_birth,
            guardians,
            marital_status: marital.unwrap_or(crate::form::MaritalStatus::Single),
            disability: disability.unwrap_or(crate::form::Disability::None),
            education: education.unwrap_or(crate::form::EducationLevel::None),
            employment: employment.unwrap_or(crate::form::EmploymentStatus::NotApplicable),
            ethnic_group: self.value(Field::EthnicGroup).to_owned(),
            residence: Residence {
                county: county.unwrap_or(0),
                sub_county: self.value(Field::SubCounty).to_owned(),
                location: self.value(Field::Location).to_owned(),
            },
            land_reference: self.optional(Field::LandReference),
            house_number: self.optional(Field::HouseNumber),
            nssf: self.optional(Field::Nssf),
            nhif: self.optional(Field::Nhif),
            kra_pin: self.optional(Field::KraPin),
            amendment,
        };
        (demographics, problems)
    }

    /// The consent as recorded in the record.
    pub fn consent_record(&self) -> Consent {
        Consent {
            given: self.consent.is_some(),
            given_by: self.consent.unwrap_or(ConsentGiver::Applicant),
            text_version: CONSENT_TEXT_VERSION.into(),
            language: self.language.clone(),
        }
    }

    /// Operator and supervisor as recorded.
    pub fn staff(&self) -> Staff {
        Staff {
            operator: self
                .operator
                .clone()
                .unwrap_or_else(|| crate::form::SELF_SERVICE.into()),
            supervisor: self.supervisor.clone(),
            approval: self.approval.clone(),
            official: self.official.clone(),
        }
    }

    /// The digest of the photo, prints and exceptions as they stand, for a supervisor's
    /// approval ([`crate::record::approval_digest`]); equal to the sealed record's own.
    pub fn approval_digest(&self) -> String {
        crate::record::approval_digest(
            self.photo.as_ref(),
            self.fingers.iter().map(|slot| {
                let shown = match (&slot.exception, &slot.best) {
                    (Some(reason), _) => FingerShown::Exception(*reason),
                    (None, Some((print, _))) => FingerShown::Print(print),
                    // Sealed as unusable, as `enrolment` does.
                    (None, None) => FingerShown::Exception(FingerException::Unusable),
                };
                (slot.position, shown)
            }),
            self.photo_override.as_ref(),
        )
    }

    /// The institution's reference standing in for the document (`kind:number`), when the
    /// document chosen is a prison's or a hospital's; what an official's sign-off covers.
    pub fn institution_reference(&self) -> Option<String> {
        let kind: crate::form::DocumentType = parse_choice(self.value(Field::DocumentKind))?;
        kind.held_by_institution().then(|| {
            format!(
                "{}:{}",
                self.value(Field::DocumentKind),
                self.value(Field::DocumentNumber)
            )
        })
    }

    /// Whether the document chosen is one the applicant holds and can hold up to the camera:
    /// not an institution's reference, nor an introducer.
    pub fn has_document_to_photograph(&self) -> bool {
        parse_choice::<crate::form::DocumentType>(self.value(Field::DocumentKind))
            .is_some_and(|kind| !kind.stands_in())
    }

    /// Whether an official's sign-off covers the institution's reference as it stands.
    pub fn official_holds(&self) -> bool {
        self.official.is_some()
            && self.official_covers.is_some()
            && self.official_covers == self.institution_reference()
    }

    /// What this kind of centre does not offer, of what the draft holds: a prison's number
    /// only in a prison, a hospital's file number and a bedside photo only in a hospital.
    pub fn centre_problems(&self, centre: sajili_record::policy::CentreKind) -> Vec<Problem> {
        self.with_application(|application| {
            crate::form::check_centre(application, centre)
                .map_or_else(|found| found.0, |()| Vec::new())
        })
        .0
    }

    /// Runs `check` on the draft as an application to the form's rules; also returns the
    /// problems found in reading the draft's typed values (a date that is no date).
    fn with_application<T>(
        &self,
        check: impl FnOnce(&crate::form::Application<'_>) -> T,
    ) -> (T, Vec<Problem>) {
        let (demographics, problems) = self.demographics();
        let consent = self.consent_record();
        let staff = self.staff();
        let fingers = self.finger_statuses();
        let application = crate::form::Application {
            demographics: &demographics,
            consent: &consent,
            staff: &staff,
            fingers: &fingers,
            photo_override: self.photo_override.as_ref(),
        };
        (check(&application), problems)
    }

    /// Whether the supervisor's sign-off still covers the biometrics on screen.
    pub fn approval_holds(&self) -> bool {
        self.supervisor.is_some() && self.approval.as_deref() == Some(&self.approval_digest())
    }

    /// Every problem with the form on `today`, for the fields of `pages` (all pages when
    /// `None`), each naming its field.
    pub fn problems(&self, today: Date, pages: Option<&[Page]>) -> Vec<Problem> {
        let (validated, mut problems) =
            self.with_application(|application| validate(application, today));
        if let Err(Problems(found)) = validated {
            for mut problem in found {
                // One box takes a parent's national ID or registration number.
                if let Some(index) = problem
                    .field
                    .strip_prefix("guardians[")
                    .and_then(|rest| rest.strip_suffix("].registration_number"))
                {
                    problem.field = format!("guardians[{index}].id_number");
                }
                // A stand-in value's own complaints would only repeat "required".
                if !problems.iter().any(|p| p.field == problem.field) {
                    problems.push(problem);
                }
            }
        }
        if let Some(pages) = pages {
            let paths: Vec<&str> = pages
                .iter()
                .flat_map(|page| page.fields().iter().map(|f| f.path()))
                .collect();
            problems.retain(|p| {
                paths.contains(&p.field.as_str())
                    || (p.field == "guardians" && pages.contains(&Page::Guardian))
                    || (p.field.starts_with("guardians[") && pages.contains(&Page::Guardian))
            });
        }
        problems
    }

    fn finger_statuses(&self) -> Vec<(FingerPosition, crate::form::FingerStatus)> {
        self.fingers
            .iter()
            .filter_map(|slot| match (&slot.exception, &slot.best) {
                (Some(reason), _) => {
                    Some((slot.position, crate::form::FingerStatus::Exception(*reason)))
                }
                (None, Some(_)) => Some((slot.position, crate::form::FingerStatus::Captured)),
                (None, None) => None,
            })
            .collect()
    }

    /// The record to seal, or every problem that stops it.
    pub fn enrolment(&self, today: Date) -> Result<Enrolment, Problems> {
        let mut problems = self.problems(today, None);
        if self.photo.is_none() {
            problems.push(Problem::new("photo", ProblemKind::Required));
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        let (demographics, _) = self.demographics();
        let photo = self
            .photo
            .clone()
            .ok_or_else(|| Problems(vec![Problem::new("photo", ProblemKind::Required)]))?;
        let fingerprints = self
            .fingers
            .iter()
            .map(|slot| FingerRecord {
                position: slot.position,
                capture: match (&slot.exception, &slot.best) {
                    (Some(reason), _) => FingerCapture::Exception(*reason),
                    (None, Some((image, _))) => FingerCapture::Image(image.clone()),
                    (None, None) => FingerCapture::Exception(FingerException::Unusable),
                },
            })
            .collect();
        Ok(Enrolment {
            demographics,
            consent: self.consent_record(),
            staff: self.staff(),
            photo,
            fingerprints,
            photo_override: self.photo_override.clone(),
            // A reference or an introducer standing in has no document to show.
            document_photo: self
                .document_photo
                .clone()
                .filter(|_| self.has_document_to_photograph()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_typed_day_month_year_and_must_exist() {
        assert_eq!(
            parse_date("17042001"),
            Date::from_calendar_date(2001, Month::April, 17).ok()
        );
        assert_eq!(parse_date("31022001"), None);
        assert_eq!(parse_date("1704200"), None);
        assert_eq!(show_date("170420"), "17/04/20");
    }

    #[test]
    fn an_empty_draft_names_each_missing_field_of_a_page() {
        let draft = Draft::default();
        let today = Date::from_calendar_date(2026, Month::November, 26).expect("date");
        let problems = draft.problems(today, Some(&[Page::Names]));
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["names.surname", "names.first_name"]);
    }
}
