//! The NIIMS enrolment form as types.
//!
//! Every field of the registration form has a type here, and nothing else does: `serde` refuses
//! unknown fields, so a DNA sample or GPS coordinates cannot be smuggled into a record (the High
//! Court struck both in 2020). Free text is `String`; closed lists are enums.

use serde::{Deserialize, Serialize};
use time::Date;

// Dates are written `YYYY-MM-DD` in JSON (time's default is a tuple).
time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// Whether the applicant registers as a Kenyan citizen or a foreign resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Citizenship {
    /// A Kenyan citizen (by birth or registration).
    Kenyan,
    /// A foreign national resident in Kenya.
    Foreigner,
}

/// The kind of identity document the applicant presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Kenyan birth certificate (entry number).
    BirthCertificate,
    /// Kenyan national identity card.
    NationalId,
    /// Kenyan driving licence.
    DrivingLicence,
    /// Alien (foreigner) identity card.
    AlienId,
    /// Passport of the applicant's nationality.
    Passport,
    /// No document of the applicant's own: a prison holds it, or there is none. The number is
    /// the prison's reference for the applicant (prison number); an official of the prison
    /// signs it off (`staff.official`). Assisted enrolment in a prison only.
    PrisonNumber,
    /// No document of the applicant's own: a hospital holds it, or there is none. The number
    /// is the hospital's file number; an official of the hospital signs it off
    /// (`staff.official`). Assisted enrolment in a hospital only.
    HospitalFile,
    /// No document: a registered person vouches for the applicant. The number is the
    /// introducer's registration number; their name is `introducer_name`. Assisted only.
    Introducer,
    /// Refugee identity card issued in Kenya (Department of Refugee Services). Foreigners.
    RefugeeId,
    /// A UNHCR document: proof of registration or an asylum-seeker pass, carrying the
    /// person's UNHCR (proGres) individual number. Foreigners.
    UnhcrDocument,
}

impl DocumentType {
    /// Whether the number is an institution's reference standing in for a document it holds
    /// (or that does not exist), which an official of the institution must sign off.
    pub fn held_by_institution(self) -> bool {
        matches!(self, Self::PrisonNumber | Self::HospitalFile)
    }

    /// Whether the applicant presents no document of their own (an institution's reference
    /// or an introducer stands in): these routes are for assisted enrolment only.
    pub fn stands_in(self) -> bool {
        self.held_by_institution() || self == Self::Introducer
    }
}

/// The identity document the applicant presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDocument {
    /// What kind of document it is.
    pub kind: DocumentType,
    /// The document's number as printed on it.
    pub number: String,
    /// ISO 3166-1 alpha-3 code of the issuing country; required for foreigners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// The introducer's full name, for [`DocumentType::Introducer`] only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introducer_name: Option<String>,
    /// A passport's machine-readable zone, line 2 (44 characters), when the operator typed it:
    /// its check digits are checked, and it must name the number and birth date on the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrz: Option<String>,
}

/// The applicant's names as they appear on the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// Surname (family name).
    pub surname: String,
    /// First (given) name.
    pub first_name: String,
    /// Other names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_names: Option<String>,
}

/// Sex as recorded on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Intersex (recognised by the 2019 census).
    Intersex,
}

/// How a parent or guardian is related to the applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// Father.
    Father,
    /// Mother.
    Mother,
    /// Legal guardian who is not a parent.
    Guardian,
}

/// A parent or guardian of the applicant (required under 18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guardian {
    /// How they are related to the applicant.
    pub relationship: Relationship,
    /// Their full name.
    pub full_name: String,
    /// Their national ID number, where they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// Their Sajili / NIIMS registration number, where they have one (checked with its check
    /// symbol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
}

/// Where the applicant was born, as the ID card carries it: a county for those born in Kenya,
/// a country for those born abroad. Exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOfBirth {
    /// County code, 1 to 47, when born in Kenya.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county: Option<u8>,
    /// ISO 3166-1 alpha-3 code, when born outside Kenya.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A part of an earlier record that an amendment changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmendedField {
    /// The identity document (kind, number, nationality).
    Document,
    /// Surname, first name or other names.
    Names,
    /// Date of birth.
    DateOfBirth,
    /// Sex.
    Sex,
    /// Place of birth.
    PlaceOfBirth,
    /// Parents and guardians.
    Guardians,
    /// Marital status.
    MaritalStatus,
    /// Ethnic group.
    EthnicGroup,
    /// County, sub-county and location of residence.
    Residence,
    /// Land reference, house, NSSF, NHIF or KRA numbers.
    Numbers,
}

/// Why an earlier record is amended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmendmentReason {
    /// A mistake made when the earlier record was taken.
    ClericalError,
    /// A change of name (marriage, deed poll).
    ChangeOfName,
    /// A court order.
    CourtOrder,
    /// A new identity document was issued.
    NewDocument,
    /// Circumstances changed (marriage, a move).
    ChangeOfCircumstances,
    /// Another reason, given in `details`.
    Other,
}

/// This enrolment corrects an earlier one: it names it, says what changes and why. It passes
/// the same rules, sign-offs and sealing as any enrolment; the registry links the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    /// The registration number of the record amended.
    pub amends: String,
    /// What changes; at least one, each once.
    #[serde(default)]
    pub fields: Vec<AmendedField>,
    /// Why; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<AmendmentReason>,
    /// In the person's or operator's words; required when the reason is `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// Marital status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaritalStatus {
    /// Never married.
    Single,
    /// Married.
    Married,
    /// Divorced.
    Divorced,
    /// Separated.
    Separated,
    /// Widowed.
    Widowed,
}

/// Disability, as the form asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disability {
    /// No disability.
    None,
    /// Visual impairment.
    Visual,
    /// Hearing impairment.
    Hearing,
    /// Speech impairment.
    Speech,
    /// Physical disability.
    Physical,
    /// Mental or intellectual disability.
    Intellectual,
    /// More than one of the above.
    Multiple,
}

/// Highest level of education completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EducationLevel {
    /// No formal education.
    None,
    /// Pre-primary.
    PrePrimary,
    /// Primary school.
    Primary,
    /// Secondary school.
    Secondary,
    /// College (certificate or diploma).
    College,
    /// University degree.
    University,
    /// Postgraduate degree.
    Postgraduate,
}

/// Employment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    /// In paid employment.
    Employed,
    /// Self-employed.
    SelfEmployed,
    /// Not employed and looking for work.
    Unemployed,
    /// In school, college or university.
    Student,
    /// Retired.
    Retired,
    /// Not in the labour force for another reason.
    NotApplicable,
}

/// Place of residence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Residence {
    /// County code, 1 to 47 (First Schedule of the Constitution).
    pub county: u8,
    /// Sub-county name, as in the master data for that county.
    pub sub_county: String,
    /// Administrative location (a named place, never coordinates).
    pub location: String,
}

/// Everything the applicant tells the kiosk about themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demographics {
    /// Kenyan or foreigner.
    pub citizenship: Citizenship,
    /// The document presented.
    pub document: IdentityDocument,
    /// Names.
    pub names: Names,
    /// Date of birth, `YYYY-MM-DD`.
    #[serde(with = "iso_date")]
    pub date_of_birth: Date,
    /// Sex.
    pub sex: Sex,
    /// Place of birth; required (absent only in records sealed before it was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_birth: Option<PlaceOfBirth>,
    /// Parents and guardians (at most two); at least one is required under 18.
    #[serde(default)]
    pub guardians: Vec<Guardian>,
    /// Marital status.
    pub marital_status: MaritalStatus,
    /// Disability.
    pub disability: Disability,
    /// Highest level of education.
    pub education: EducationLevel,
    /// Employment status.
    pub employment: EmploymentStatus,
    /// Ethnic group, as the applicant states it.
    pub ethnic_group: String,
    /// Place of residence.
    pub residence: Residence,
    /// Land reference number, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub land_reference: Option<String>,
    /// House number, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house_number: Option<String>,
    /// NSSF membership number, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nssf: Option<String>,
    /// NHIF membership number, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nhif: Option<String>,
    /// KRA PIN, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kra_pin: Option<String>,
    /// When this enrolment corrects an earlier record: which, what and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amendment: Option<Amendment>,
}

/// The ten finger positions, numbered as in ISO/IEC 19794-4 and ANSI/NIST-ITL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerPosition {
    /// 1: right thumb.
    RightThumb = 1,
    /// 2: right index.
    RightIndex = 2,
    /// 3: right middle.
    RightMiddle = 3,
    /// 4: right ring.
    RightRing = 4,
    /// 5: right little.
    RightLittle = 5,
    /// 6: left thumb.
    LeftThumb = 6,
    /// 7: left index.
    LeftIndex = 7,
    /// 8: left middle.
    LeftMiddle = 8,
    /// 9: left ring.
    LeftRing = 9,
    /// 10: left little.
    LeftLittle = 10,
}

impl FingerPosition {
    /// All ten positions in standard order.
    pub const ALL: [FingerPosition; 10] = [
        Self::RightThumb,
        Self::RightIndex,
        Self::RightMiddle,
        Self::RightRing,
        Self::RightLittle,
        Self::LeftThumb,
        Self::LeftIndex,
        Self::LeftMiddle,
        Self::LeftRing,
        Self::LeftLittle,
    ];

    /// The snake_case name used in JSON and field paths.
    pub fn name(self) -> &'static str {
        match self {
            Self::RightThumb => "right_thumb",
            Self::RightIndex => "right_index",
            Self::RightMiddle => "right_middle",
            Self::RightRing => "right_ring",
            Self::RightLittle => "right_little",
            Self::LeftThumb => "left_thumb",
            Self::LeftIndex => "left_index",
            Self::LeftMiddle => "left_middle",
            Self::LeftRing => "left_ring",
            Self::LeftLittle => "left_little",
        }
    }
}

/// Why a finger could not be captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerException {
    /// Missing from birth.
    Missing,
    /// Amputated.
    Amputated,
    /// Injured or bandaged today.
    Injured,
    /// Present, but no usable print after the allowed attempts (worn ridges).
    Unusable,
    /// Present but cannot be pressed for now (a cast, a drip): the applicant comes back on
    /// `return_on` to give the print. In JSON
    /// `{"temporarily_unable": {"return_on": "YYYY-MM-DD"}}`.
    TemporarilyUnable {
        /// The day to come back, after the capture date.
        #[serde(with = "iso_date")]
        return_on: Date,
    },
}

/// A face check of ISO/IEC 19794-5 the kiosk makes on the photo (the names of the kiosk's
/// face checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceCheck {
    /// Faces found (exactly one is wanted).
    OneFace,
    /// Pixels between the eye centres.
    EyeDistance,
    /// Eye midpoint's distance from the frame's vertical centre line, share of the width.
    Centred,
    /// Eye line's height, share of the frame height from the top.
    EyeHeight,
    /// Tilt of the eye line, degrees.
    Roll,
    /// Eye midpoint's distance from the face's centre line, share of the face width (turned
    /// heads put the eyes off-centre in the face).
    Frontal,
    /// The light: the scene's (the wall's or the face's highlights, whichever is brighter)
    /// and the share of the face blown out. Never the face's mean grey level, which reads deep
    /// skin as darkness (issue 18).
    Exposure,
    /// Contrast on the face: its 1st to 99th percentile span as a share of the 99th, so a
    /// deep-toned face is held to the same standard as a light one.
    DynamicRange,
    /// Mean absolute Laplacian on the face relative to its contrast: blur lowers it.
    Sharpness,
    /// Mean grey level of the background beside the head.
    BackgroundLight,
    /// Grey-level deviation of the background beside the head.
    BackgroundPlain,
}

/// Why a photo was taken although face checks failed: a fixed list, so the registry can
/// count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoOverrideReason {
    /// The applicant cannot sit or stand up.
    LyingDown,
    /// Bandages or dressings cover part of the face.
    Bandaged,
    /// No plain wall behind the bed.
    NoPlainBackground,
    /// Medical equipment (a mask, tubes) is in the way.
    MedicalEquipment,
}

/// A photo taken at the bedside although face checks failed (assisted, hospital only): which
/// checks failed and why they were overridden. The supervisor's approval covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoOverride {
    /// The checks the photo failed, at least one.
    pub failed: Vec<FaceCheck>,
    /// Why they were overridden; `None` is refused by the rules (a draft may not have one yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<PhotoOverrideReason>,
}

/// Who gave consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentGiver {
    /// The applicant (18 and over).
    Applicant,
    /// A parent or guardian, for a child (Data Protection Act 2019, s.33).
    Guardian,
}

/// The applicant's consent, recorded as part of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Whether consent was given; a record cannot be sealed without it.
    pub given: bool,
    /// Who gave it.
    pub given_by: ConsentGiver,
    /// Identifier of the consent text shown, so the words agreed to can be found later.
    pub text_version: String,
    /// Language the text was shown in (`en` or `sw`).
    pub language: String,
}

/// Who ran the enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    /// Operator's staff number, or `self-service` for the unattended kiosk.
    pub operator: String,
    /// Supervisor's staff number; required when any finger is an exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<String>,
    /// What the supervisor approved: the SHA-256 (hex) of the photo, prints and exceptions as
    /// they were on screen ([`crate::record::approval_digest`]). A record whose biometrics
    /// differ from it is not sealed: the approval was for something else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Staff number of the institution's official who signed off an institution's reference
    /// in place of a document ([`DocumentType::held_by_institution`]); never the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub official: Option<String>,
}

/// The operator a record names when the applicant used the kiosk alone.
pub const SELF_SERVICE: &str = "self-service";
