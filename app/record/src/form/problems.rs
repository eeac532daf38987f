//! Validation problems, each naming its field, with a message in English and Kiswahili.
//!
//! The kiosk shows the message next to the field; the command line prints them all. Messages
//! are written for the applicant, in plain words, not translated word for word.

use std::fmt;

/// A language the kiosk speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// English.
    #[default]
    English,
    /// Kiswahili.
    Kiswahili,
}

impl Language {
    /// The ISO 639-1 code (`en`, `sw`).
    pub fn code(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Kiswahili => "sw",
        }
    }

    /// Parses `en` or `sw`.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::English),
            "sw" => Some(Self::Kiswahili),
            _ => None,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The field is empty but must be filled.
    Required,
    /// The text is longer than allowed.
    TooLong {
        /// Most characters allowed.
        max: usize,
    },
    /// The text holds characters a name (or this field) cannot hold.
    InvalidCharacters,
    /// The value does not fit the number's format.
    BadFormat {
        /// A well-formed example.
        example: &'static str,
    },
    /// The applicant is under six on the capture date.
    TooYoung {
        /// Age in whole years on the capture date.
        age: i32,
    },
    /// The date of birth is after the capture date.
    BornInFuture,
    /// A Kenyan citizen gave a foreigner's document, or the other way round.
    DocumentNotForCitizenship,
    /// A foreigner's document without a nationality, or a Kenyan nationality on a foreigner.
    NationalityRequired,
    /// Under 18 without a parent or guardian.
    GuardianRequired,
    /// County code outside 1 to 47.
    UnknownCounty,
    /// The sub-county is not in the chosen county.
    SubCountyNotInCounty {
        /// The county's name.
        county: &'static str,
    },
    /// A finger position appears more than once.
    FingerRepeated,
    /// A finger position is neither captured nor recorded as an exception.
    FingerMissing,
    /// A finger exception without a supervisor's sign-off.
    SupervisorRequired,
    /// The supervisor is the operator: nobody checked the operator's work.
    SupervisorIsOperator,
    /// The staff number is not in this device's roster.
    StaffUnknown,
    /// The staff member is disabled in this device's roster.
    StaffDisabled,
    /// The staff member named as supervisor is not a supervisor.
    StaffNotSupervisor,
    /// The photo, prints or exceptions changed after the supervisor approved them.
    ApprovalStale,
    /// A country code that is not a current ISO 3166-1 alpha-3 code.
    UnknownCountry,
    /// A place of birth in Kenya given as a country: it is given as a county.
    BornInKenyaGiveCounty,
    /// Both a county and a country of birth: one place only.
    PlaceOfBirthTwice,
    /// More than two parents or guardians.
    TooManyGuardians,
    /// Two fathers, or two mothers.
    RelationshipRepeated,
    /// A registration number whose check symbol does not match: a symbol is mistyped.
    RegistrationNumberMistyped,
    /// An amendment's reason is `other` without the reason in words.
    AmendmentDetailsRequired,
    /// A field named twice in an amendment.
    AmendedFieldRepeated,
    /// Consent was not given.
    ConsentNotGiven,
    /// A child's consent must come from a parent or guardian.
    GuardianConsentRequired,
    /// The language code is not `en` or `sw`.
    UnknownLanguage,
    /// An institution's reference stands in for the document without its official's sign-off.
    OfficialRequired,
    /// The official who signed off the institution's reference is the operator.
    OfficialIsOperator,
    /// A route or override for assisted enrolment only, in a self-service record.
    AssistedOnly,
    /// A route or override this kind of centre does not offer.
    NotAtThisCentre,
    /// A finger's day to come back is not after the capture date.
    ReturnDateNotLater,
    /// A finger's day to come back is more than a year away.
    ReturnDateTooFar,
    /// A photo taken despite failed checks names none of them.
    OverrideChecksRequired,
    /// A photo taken despite failed checks gives no reason.
    OverrideReasonRequired,
    /// A photo taken despite failed checks without a supervisor's sign-off.
    OverrideSupervisorRequired,
    /// A machine-readable line that is not 44 characters of digits, capitals and `<`.
    MrzBadFormat,
    /// A machine-readable line's check digit does not match its part: a character mistyped.
    MrzCheckDigit {
        /// The part whose digit fails.
        part: super::MrzPart,
    },
    /// A sound machine-readable line that names another number or birth date than the form.
    MrzDisagrees {
        /// The part that differs.
        part: super::MrzPart,
    },
    /// A machine-readable line for a document that is not a passport.
    MrzNotAPassport,
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path of the field, e.g. `names.surname` or `fingerprints.left_index`.
    pub field: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl Problem {
    /// Makes a problem for `field`.
    pub fn new(field: impl Into<String>, kind: ProblemKind) -> Self {
        Self {
            field: field.into(),
            kind,
        }
    }

    /// The message for the person, in `language`.
    pub fn message(&self, language: Language) -> String {
        use Language::{English as En, Kiswahili as Sw};
        use ProblemKind as K;
        match (&self.kind, language) {
            (K::Required, En) => "This is required.".into(),
            (K::Required, Sw) => "Sehemu hii lazima ijazwe.".into(),
            (K::TooLong { max }, En) => format!("Too long: at most {max} characters."),
            (K::TooLong { max }, Sw) => format!("Herufi ni nyingi mno: zisizidi {max}."),
            (K::InvalidCharacters, En) => {
                "Use letters, spaces, hyphens and apostrophes only.".into()
            }
            (K::InvalidCharacters, Sw) => {
                "Tumia herufi tu. Nafasi, kistari (-) na (') vinaruhusiwa.".into()
            }
            (K::BadFormat { example }, En) => {
                format!("This number is not in the right form, e.g. {example}.")
            }
            (K::BadFormat { example }, Sw) => {
                format!("Nambari hii haiko katika muundo sahihi, mfano {example}.")
            }
            (K::TooYoung { age }, En) => {
                format!("Applicants must be at least 6 years old (this applicant is {age}).")
            }
            (K::TooYoung { age }, Sw) => {
                format!("Mwombaji lazima awe na umri wa miaka 6 au zaidi (umri wake ni {age}).")
            }
            (K::BornInFuture, En) => "The date of birth is after today.".into(),
            (K::BornInFuture, Sw) => "Tarehe ya kuzaliwa ni baada ya leo.".into(),
            (K::DocumentNotForCitizenship, En) => "Kenyan citizens give a birth certificate, \
                national ID or driving licence; foreigners an alien ID or passport."
                .into(),
            (K::DocumentNotForCitizenship, Sw) => "Raia wa Kenya hutoa cheti cha kuzaliwa, \
                kitambulisho cha taifa au leseni ya udereva; wageni hutoa kitambulisho cha \
                mgeni au pasipoti."
                .into(),
            (K::NationalityRequired, En) => {
                "Give the country that issued the document (three letters, e.g. UGA).".into()
            }
            (K::NationalityRequired, Sw) => {
                "Andika nchi iliyotoa hati hii (herufi tatu, mfano UGA).".into()
            }
            (K::GuardianRequired, En) => {
                "Applicants under 18 need a parent or guardian, with name and relationship.".into()
            }
            (K::GuardianRequired, Sw) => {
                "Mwombaji aliye chini ya miaka 18 anahitaji mzazi au mlezi, pamoja na jina \
                 na uhusiano."
                    .into()
            }
            (K::UnknownCounty, En) => "Choose one of Kenya's 47 counties.".into(),
            (K::UnknownCounty, Sw) => "Chagua moja ya kaunti 47 za Kenya.".into(),
            (K::SubCountyNotInCounty { county }, En) => {
                format!("This sub-county is not in {county} County.")
            }
            (K::SubCountyNotInCounty { county }, Sw) => {
                format!("Kaunti ndogo hii haimo katika Kaunti ya {county}.")
            }
            (K::FingerRepeated, En) => "This finger is given more than once.".into(),
            (K::FingerRepeated, Sw) => "Kidole hiki kimetolewa zaidi ya mara moja.".into(),
            (K::FingerMissing, En) => {
                "Capture this finger, or record why it cannot be captured.".into()
            }
            (K::FingerMissing, Sw) => {
                "Chukua alama ya kidole hiki, au eleza kwa nini haiwezekani.".into()
            }
            (K::SupervisorRequired, En) => {
                "A supervisor must approve fingers that could not be captured.".into()
            }
            (K::SupervisorRequired, Sw) => {
                "Msimamizi lazima aidhinishe vidole ambavyo alama zake hazikuchukuliwa.".into()
            }
            (K::SupervisorIsOperator, En) => {
                "The supervisor must be someone other than the operator.".into()
            }
            (K::SupervisorIsOperator, Sw) => {
                "Msimamizi lazima awe mtu mwingine, si mhudumu aliyesajili.".into()
            }
            (K::StaffUnknown, En) => "This staff number is not registered on this kiosk.".into(),
            (K::StaffUnknown, Sw) => {
                "Nambari hii ya mfanyakazi haijasajiliwa kwenye mashine hii.".into()
            }
            (K::StaffDisabled, En) => "This staff member may no longer sign in here.".into(),
            (K::StaffDisabled, Sw) => {
                "Mfanyakazi huyu haruhusiwi tena kuingia kwenye mashine hii.".into()
            }
            (K::StaffNotSupervisor, En) => "This staff member is not a supervisor.".into(),
            (K::StaffNotSupervisor, Sw) => "Mfanyakazi huyu si msimamizi.".into(),
            (K::ApprovalStale, En) => {
                "The photo or prints changed after the supervisor approved them: the \
                 supervisor must approve again."
                    .into()
            }
            (K::ApprovalStale, Sw) => {
                "Picha au alama za vidole zimebadilika baada ya msimamizi kuidhinisha: \
                 msimamizi lazima aidhinishe tena."
                    .into()
            }
            (K::UnknownCountry, En) => "Choose the country from the list.".into(),
            (K::UnknownCountry, Sw) => "Chagua nchi kutoka kwenye orodha.".into(),
            (K::BornInKenyaGiveCounty, En) => {
                "Born in Kenya: choose the county of birth instead.".into()
            }
            (K::BornInKenyaGiveCounty, Sw) => {
                "Alizaliwa Kenya: chagua kaunti ya kuzaliwa badala yake.".into()
            }
            (K::PlaceOfBirthTwice, En) => {
                "Give one place of birth: a county in Kenya, or a country outside it.".into()
            }
            (K::PlaceOfBirthTwice, Sw) => {
                "Toa mahali pamoja pa kuzaliwa: kaunti ndani ya Kenya, au nchi nje ya Kenya.".into()
            }
            (K::TooManyGuardians, En) => "Give at most two parents or guardians.".into(),
            (K::TooManyGuardians, Sw) => "Toa wazazi au walezi wasiozidi wawili.".into(),
            (K::RelationshipRepeated, En) => "Only one father and one mother can be given.".into(),
            (K::RelationshipRepeated, Sw) => "Baba mmoja tu na mama mmoja tu.".into(),
            (K::RegistrationNumberMistyped, En) => {
                "This registration number does not check out: a letter or digit is mistyped.".into()
            }
            (K::RegistrationNumberMistyped, Sw) => {
                "Nambari hii ya usajili si sahihi: herufi au tarakimu moja imekosewa.".into()
            }
            (K::AmendmentDetailsRequired, En) => "Say in words why the record is corrected.".into(),
            (K::AmendmentDetailsRequired, Sw) => {
                "Eleza kwa maneno kwa nini rekodi inasahihishwa.".into()
            }
            (K::AmendedFieldRepeated, En) => "Each detail is named once.".into(),
            (K::AmendedFieldRepeated, Sw) => "Kila taarifa itajwe mara moja tu.".into(),
            (K::ConsentNotGiven, En) => "We cannot register without consent.".into(),
            (K::ConsentNotGiven, Sw) => "Hatuwezi kusajili bila ridhaa yako.".into(),
            (K::GuardianConsentRequired, En) => {
                "For an applicant under 18, a parent or guardian gives consent.".into()
            }
            (K::GuardianConsentRequired, Sw) => {
                "Kwa mwombaji aliye chini ya miaka 18, mzazi au mlezi ndiye hutoa ridhaa.".into()
            }
            (K::UnknownLanguage, En) => "The language must be en or sw.".into(),
            (K::UnknownLanguage, Sw) => "Lugha lazima iwe en au sw.".into(),
            (K::OfficialRequired, En) => {
                "An official of the institution must sign off its reference in place of the \
                 document."
                    .into()
            }
            (K::OfficialRequired, Sw) => {
                "Afisa wa taasisi lazima aidhinishe nambari yake badala ya hati.".into()
            }
            (K::OfficialIsOperator, En) => {
                "The official who signs off must be someone other than the operator.".into()
            }
            (K::OfficialIsOperator, Sw) => {
                "Afisa anayeidhinisha lazima awe mtu mwingine, si mhudumu aliyesajili.".into()
            }
            (K::AssistedOnly, En) => "Only an operator may use this, not self-service.".into(),
            (K::AssistedOnly, Sw) => {
                "Mhudumu pekee ndiye anayeweza kutumia hii, si kujisajili mwenyewe.".into()
            }
            (K::NotAtThisCentre, En) => "This kind of centre does not offer this.".into(),
            (K::NotAtThisCentre, Sw) => "Kituo cha aina hii hakitoi huduma hii.".into(),
            (K::ReturnDateNotLater, En) => "The day to come back must be after today.".into(),
            (K::ReturnDateNotLater, Sw) => "Siku ya kurudi lazima iwe baada ya leo.".into(),
            (K::ReturnDateTooFar, En) => "The day to come back must be within a year.".into(),
            (K::ReturnDateTooFar, Sw) => "Siku ya kurudi lazima iwe ndani ya mwaka mmoja.".into(),
            (K::OverrideChecksRequired, En) => "Name the photo checks that failed.".into(),
            (K::OverrideChecksRequired, Sw) => "Taja vipimo vya picha ambavyo havikufaulu.".into(),
            (K::OverrideReasonRequired, En) => {
                "Choose why the photo is taken although its checks failed.".into()
            }
            (K::OverrideReasonRequired, Sw) => {
                "Chagua sababu ya kupiga picha ingawa vipimo vyake havikufaulu.".into()
            }
            (K::OverrideSupervisorRequired, En) => {
                "A supervisor must approve a photo taken although its checks failed.".into()
            }
            (K::OverrideSupervisorRequired, Sw) => {
                "Msimamizi lazima aidhinishe picha iliyopigwa ingawa vipimo vyake \
                 havikufaulu."
                    .into()
            }
            (K::MrzBadFormat, En) => "The machine-readable line has 44 characters: capital \
                letters, digits and <."
                .into(),
            (K::MrzBadFormat, Sw) => "Mstari unaosomwa na mashine una herufi 44: herufi \
                kubwa, tarakimu na <."
                .into(),
            (K::MrzCheckDigit { part }, En) => format!(
                "The check digit of the {} (character {}) does not match: a character is \
                 mistyped.",
                mrz_part(*part, En),
                part.check_position()
            ),
            (K::MrzCheckDigit { part }, Sw) => format!(
                "Tarakimu ya kuthibitisha ya {} (herufi ya {}) hailingani: herufi moja \
                 imekosewa.",
                mrz_part(*part, Sw),
                part.check_position()
            ),
            (K::MrzDisagrees { part }, En) => format!(
                "The {} in the machine-readable line is not the one on this form.",
                mrz_part(*part, En)
            ),
            (K::MrzDisagrees { part }, Sw) => format!(
                "{} katika mstari unaosomwa na mashine si ile iliyo kwenye fomu hii.",
                capitalised(mrz_part(*part, Sw))
            ),
            (K::MrzNotAPassport, En) => {
                "Only a passport has this machine-readable line: leave it empty.".into()
            }
            (K::MrzNotAPassport, Sw) => {
                "Pasipoti pekee ina mstari huu unaosomwa na mashine: uache wazi.".into()
            }
        }
    }
}

/// A part of a passport's machine-readable line, as the messages name it.
fn mrz_part(part: super::MrzPart, language: Language) -> &'static str {
    use super::MrzPart as P;
    match (part, language) {
        (P::DocumentNumber, Language::English) => "passport number",
        (P::DocumentNumber, Language::Kiswahili) => "nambari ya pasipoti",
        (P::DateOfBirth, Language::English) => "date of birth",
        (P::DateOfBirth, Language::Kiswahili) => "tarehe ya kuzaliwa",
        (P::Expiry, Language::English) => "expiry date",
        (P::Expiry, Language::Kiswahili) => "tarehe ya mwisho wa matumizi",
        (P::PersonalNumber, Language::English) => "personal number",
        (P::PersonalNumber, Language::Kiswahili) => "nambari binafsi",
        (P::Composite, Language::English) => "whole line",
        (P::Composite, Language::Kiswahili) => "mstari mzima",
    }
}

/// `words` with its first letter a capital.
fn capitalised(words: &str) -> String {
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Every problem found in one form: never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Whether `field` has a problem of `kind`.
    pub fn has(&self, field: &str, kind: &ProblemKind) -> bool {
        self.0.iter().any(|p| p.field == field && &p.kind == kind)
    }

    /// Whether any problem names `field`.
    pub fn names(&self, field: &str) -> bool {
        self.0.iter().any(|p| p.field == field)
    }
}

impl fmt::Display for Problems {
    /// One line per problem: the field, then the English and Kiswahili messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.0 {
            writeln!(
                f,
                "{}: {} / {}",
                problem.field,
                problem.message(Language::English),
                problem.message(Language::Kiswahili)
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
