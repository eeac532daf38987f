//! The form's fields as the kiosk asks them: one index each (the screens refer to them by
//! it), the keyboard each needs, and the short pages they are asked on.

use serde::{Deserialize, Serialize};

/// What a field is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Letters, space, hyphen, apostrophe: names.
    Letters,
    /// Digits only.
    Digits,
    /// Letters and digits (and `/ -`): document and reference numbers.
    Text,
    /// One of a list, chosen by touch.
    Choice,
}

/// One field of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `kenyan` or `foreigner`.
    Citizenship,
    /// A [`crate::form::DocumentType`] in snake case.
    DocumentKind,
    /// The document's number.
    DocumentNumber,
    /// ISO 3166-1 alpha-3 code, foreigners only.
    Nationality,
    /// Surname.
    Surname,
    /// First name.
    FirstName,
    /// Other names.
    OtherNames,
    /// Date of birth as eight digits, day month year (`17042001`).
    DateOfBirth,
    /// `male`, `female` or `intersex`.
    Sex,
    /// `father`, `mother` or `guardian`.
    GuardianRelationship,
    /// The guardian's full name.
    GuardianName,
    /// The guardian's national ID number.
    GuardianId,
    /// A [`crate::form::MaritalStatus`] in snake case.
    MaritalStatus,
    /// A [`crate::form::Disability`] in snake case.
    Disability,
    /// A [`crate::form::EducationLevel`] in snake case.
    Education,
    /// A [`crate::form::EmploymentStatus`] in snake case.
    Employment,
    /// Ethnic group, as stated.
    EthnicGroup,
    /// County code, `1` to `47`.
    County,
    /// Sub-county name.
    SubCounty,
    /// Location name.
    Location,
    /// Land reference number.
    LandReference,
    /// House number.
    HouseNumber,
    /// NSSF number.
    Nssf,
    /// NHIF number.
    Nhif,
    /// KRA PIN.
    KraPin,
    /// The second parent's or guardian's relationship.
    Guardian2Relationship,
    /// The second parent's or guardian's full name.
    Guardian2Name,
    /// The second parent's or guardian's national ID or registration number.
    Guardian2Id,
    /// County of birth, `1` to `47`, for those born in Kenya.
    BirthCounty,
    /// Country of birth (ISO 3166-1 alpha-3), for those born abroad.
    BirthCountry,
    /// `new`, or `correction` of an earlier enrolment.
    Purpose,
    /// The registration number of the record corrected.
    Amends,
    /// What the correction changes: [`crate::form::AmendedField`]s in snake case, `,` between.
    AmendedFields,
    /// A [`crate::form::AmendmentReason`] in snake case.
    AmendReason,
    /// The reason in words.
    AmendDetails,
    /// The introducer's full name, when an introducer vouches in place of a document.
    IntroducerName,
    /// A passport's machine-readable zone, line 2 (optional; its check digits are checked).
    Mrz,
}

impl Field {
    /// Every field, in index order.
    pub const ALL: [Field; 37] = [
        Self::Citizenship,
        Self::DocumentKind,
        Self::DocumentNumber,
        Self::Nationality,
        Self::Surname,
        Self::FirstName,
        Self::OtherNames,
        Self::DateOfBirth,
        Self::Sex,
        Self::GuardianRelationship,
        Self::GuardianName,
        Self::GuardianId,
        Self::MaritalStatus,
        Self::Disability,
        Self::Education,
        Self::Employment,
        Self::EthnicGroup,
        Self::County,
        Self::SubCounty,
        Self::Location,
        Self::LandReference,
        Self::HouseNumber,
        Self::Nssf,
        Self::Nhif,
        Self::KraPin,
        Self::Guardian2Relationship,
        Self::Guardian2Name,
        Self::Guardian2Id,
        Self::BirthCounty,
        Self::BirthCountry,
        Self::Purpose,
        Self::Amends,
        Self::AmendedFields,
        Self::AmendReason,
        Self::AmendDetails,
        Self::IntroducerName,
        Self::Mrz,
    ];

    /// Its index: the screens name fields by it (`Fields` in ui/fields.slint).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The field at `index`.
    pub fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// How it is filled in.
    pub fn entry(self) -> Entry {
        match self {
            Self::Surname
            | Self::FirstName
            | Self::OtherNames
            | Self::GuardianName
            | Self::Guardian2Name
            | Self::IntroducerName
            | Self::EthnicGroup
            | Self::Location => Entry::Letters,
            Self::DateOfBirth | Self::Nssf | Self::Nhif => Entry::Digits,
            // A national ID (digits) or a registration number (letters and digits).
            Self::GuardianId | Self::Guardian2Id => Entry::Text,
            Self::DocumentNumber
            | Self::Nationality
            | Self::LandReference
            | Self::HouseNumber
            | Self::KraPin
            | Self::Amends
            | Self::AmendDetails
            | Self::Mrz => Entry::Text,
            Self::Citizenship
            | Self::DocumentKind
            | Self::Sex
            | Self::GuardianRelationship
            | Self::MaritalStatus
            | Self::Disability
            | Self::Education
            | Self::Employment
            | Self::County
            | Self::SubCounty
            | Self::Guardian2Relationship
            | Self::BirthCounty
            | Self::BirthCountry
            | Self::Purpose
            | Self::AmendedFields
            | Self::AmendReason => Entry::Choice,
        }
    }

    /// Most characters it takes from the keyboard.
    pub fn max_len(self) -> usize {
        match self {
            Self::DateOfBirth => 8,
            Self::Nationality => 3,
            Self::Surname
            | Self::FirstName
            | Self::OtherNames
            | Self::GuardianName
            | Self::Guardian2Name
            | Self::IntroducerName => 60,
            Self::AmendDetails => 80,
            Self::Mrz => sajili_record::form::MRZ_LENGTH,
            _ => 30,
        }
    }

    /// The path the validation rules use for it, so their messages land next to it.
    pub fn path(self) -> &'static str {
        match self {
            Self::Citizenship => "citizenship",
            Self::DocumentKind => "document.kind",
            Self::DocumentNumber => "document.number",
            Self::Nationality => "document.nationality",
            Self::Surname => "names.surname",
            Self::FirstName => "names.first_name",
            Self::OtherNames => "names.other_names",
            Self::DateOfBirth => "date_of_birth",
            Self::Sex => "sex",
            Self::GuardianRelationship => "guardians[0].relationship",
            Self::GuardianName => "guardians[0].full_name",
            Self::GuardianId => "guardians[0].id_number",
            Self::MaritalStatus => "marital_status",
            Self::Disability => "disability",
            Self::Education => "education",
            Self::Employment => "employment",
            Self::EthnicGroup => "ethnic_group",
            Self::County => "residence.county",
            Self::SubCounty => "residence.sub_county",
            Self::Location => "residence.location",
            Self::LandReference => "land_reference",
            Self::HouseNumber => "house_number",
            Self::Nssf => "nssf",
            Self::Nhif => "nhif",
            Self::KraPin => "kra_pin",
            Self::Guardian2Relationship => "guardians[1].relationship",
            Self::Guardian2Name => "guardians[1].full_name",
            Self::Guardian2Id => "guardians[1].id_number",
            Self::BirthCounty => "place_of_birth.county",
            Self::BirthCountry => "place_of_birth.country",
            Self::Purpose => "purpose",
            Self::Amends => "amendment.amends",
            Self::AmendedFields => "amendment.fields",
            Self::AmendReason => "amendment.reason",
            Self::AmendDetails => "amendment.details",
            Self::IntroducerName => "document.introducer_name",
            Self::Mrz => "document.mrz",
        }
    }

    /// Whether a keyboard character belongs in this field.
    pub fn accepts(self, c: char) -> bool {
        // The zone is capitals, digits and the filler `<`, nothing else.
        if self == Self::Mrz {
            return c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<';
        }
        match self.entry() {
            Entry::Letters => c.is_alphabetic() || matches!(c, ' ' | '-' | '\''),
            Entry::Digits => c.is_ascii_digit(),
            Entry::Text => c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | ' '),
            Entry::Choice => false,
        }
    }
}

/// A page of the form: a few fields asked together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Page {
    /// Citizenship and identity document.
    Document,
    /// A correction: the record it corrects, what changes and why (asked only for one).
    Amendment,
    /// Names.
    Names,
    /// Date of birth, sex and place of birth.
    Birth,
    /// Parents or guardians, up to two (asked under 18 only).
    Guardian,
    /// Marital status and disability.
    About,
    /// Education and employment.
    Work,
    /// Ethnic group and residence.
    Residence,
    /// Optional numbers: land, house, NSSF, NHIF, KRA.
    Numbers,
}

impl Page {
    /// The pages in order.
    pub const ALL: [Page; 9] = [
        Self::Document,
        Self::Amendment,
        Self::Names,
        Self::Birth,
        Self::Guardian,
        Self::About,
        Self::Work,
        Self::Residence,
        Self::Numbers,
    ];

    /// Its fields, top to bottom.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Document => &[
                Field::Citizenship,
                Field::DocumentKind,
                Field::DocumentNumber,
                Field::IntroducerName,
                Field::Nationality,
                Field::Mrz,
                Field::Purpose,
            ],
            Self::Amendment => &[
                Field::Amends,
                Field::AmendedFields,
                Field::AmendReason,
                Field::AmendDetails,
            ],
            Self::Names => &[Field::Surname, Field::FirstName, Field::OtherNames],
            Self::Birth => &[
                Field::DateOfBirth,
                Field::Sex,
                Field::BirthCounty,
                Field::BirthCountry,
            ],
            Self::Guardian => &[
                Field::GuardianRelationship,
                Field::GuardianName,
                Field::GuardianId,
                Field::Guardian2Relationship,
                Field::Guardian2Name,
                Field::Guardian2Id,
            ],
            Self::About => &[Field::MaritalStatus, Field::Disability],
            Self::Work => &[Field::Education, Field::Employment],
            Self::Residence => &[
                Field::EthnicGroup,
                Field::County,
                Field::SubCounty,
                Field::Location,
            ],
            Self::Numbers => &[
                Field::LandReference,
                Field::HouseNumber,
                Field::Nssf,
                Field::Nhif,
                Field::KraPin,
            ],
        }
    }

    /// The page a field is on.
    pub fn of(field: Field) -> Page {
        Self::ALL
            .into_iter()
            .find(|page| page.fields().contains(&field))
            .unwrap_or(Page::Document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_on_exactly_one_page_and_indexes_round_trip() {
        for field in Field::ALL {
            assert_eq!(Field::from_index(field.index()), Some(field));
            let pages = Page::ALL
                .iter()
                .filter(|p| p.fields().contains(&field))
                .count();
            assert_eq!(pages, 1, "{field:?}");
        }
    }
}
